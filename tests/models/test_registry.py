import pytest

import fgkeras
from fgkeras.models.registry import register_model, unregister_model


def test_list_models_has_the_foundation_models():
    assert {"baseline", "bcnn", "cbp", "isqrt_cov"} <= set(fgkeras.list_models())
    assert fgkeras.list_models() == sorted(fgkeras.list_models())


def test_list_models_matches_family_and_tags():
    assert set(fgkeras.list_models("bilinear")) >= {"bcnn", "cbp", "isqrt_cov"}
    assert "baseline" not in fgkeras.list_models("*bilinear*")
    assert fgkeras.list_models("*compact*") == ["cbp"]
    assert fgkeras.list_models("no-such-*") == []


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="Did you mean: bcnn") as error:
        fgkeras.build("bcn", num_classes=3)
    assert "Received: name='bcn'" in str(error.value)


def test_model_card_has_paper_year_family_and_data_config():
    card = fgkeras.model_card("cbp")
    assert card["family"] == "bilinear"
    assert card["year"] == 2016
    assert "Compact Bilinear" in card["paper"]
    assert card["url"].startswith("https://")
    assert card["data_config"]["input_size"] == (448, 448)
    assert card["data_config"]["resize_size"] == 512
    card["data_config"]["input_size"] = (1, 1)  # a copy: the registry is unchanged
    assert fgkeras.model_card("cbp")["data_config"]["input_size"] == (448, 448)


def test_name_comes_from_the_function_and_cannot_repeat():
    @register_model(family="test")
    def registry_probe(**kwargs):
        """Probe model."""
        return kwargs

    try:
        assert fgkeras.build("registry_probe", weights=None) == {"weights": None}
        assert fgkeras.model_card("registry_probe")["summary"] == "Probe model."
        with pytest.raises(ValueError, match="already registered"):
            register_model(family="test")(registry_probe)
    finally:
        unregister_model("registry_probe")


def test_build_passes_weights_none_through():
    model = fgkeras.build(
        "baseline", num_classes=2, backbone="tiny", weights=None, input_shape=(16, 16, 3)
    )
    assert model.name == "baseline"


def test_paper_results_reach_the_card_and_bad_ones_are_refused():
    assert fgkeras.model_card("bcnn")["paper_results"]["CUB-200-2011"] == 0.84
    assert fgkeras.model_card("baseline")["paper_results"] == {}
    for bad in ({"CUB-200-2011": 84.0}, {"CUB-200-2011": "84%"}, [("CUB-200-2011", 0.84)]):
        with pytest.raises(ValueError, match="paper_results"):

            @register_model(family="test", paper_results=bad)
            def registry_paper_probe(**kwargs):
                return kwargs

    assert "registry_paper_probe" not in fgkeras.list_models()
