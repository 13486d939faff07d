"""benchmarks/attention_localization.py: its variants, its table and what it recorded."""

import json
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(import_benchmark):
    return import_benchmark("attention_localization")


def test_variants_are_registered_models_with_their_options(bench):
    import fgkeras

    for label, (name, options) in bench.VARIANTS.items():
        assert name in fgkeras.list_models(), label
        model = fgkeras.build(
            name, num_classes=3, backbone="tiny", weights=None, input_shape=(32, 32, 3), **options
        )
        if name != "baseline":
            assert "attention_maps" in fgkeras.model_card(name)["capabilities"]
            assert model.get_layer("attention_maps") is not None
    plain = bench.VARIANTS["soft_attention (plain gradient)"][1]
    assert plain["feature_gradient"] == "attention"
    assert bench.VARIANTS["soft_attention"][1].get("feature_gradient") is None  # the default
    import inspect

    default = inspect.signature(fgkeras.models.attention.build_soft_attention).parameters
    assert default["feature_gradient"].default == "uniform"


def test_markdown_averages_each_variant_over_its_seeds(bench):
    def row(model, seed, own, cam):
        return {
            "model": model,
            "seed": seed,
            "acc": 0.9 + seed / 100,
            "own map in part": own,
            "own map on object": None if own is None else 0.9,
            "Grad-CAM in part": cam,
            "train s": 100.0,
            "chance_part": 0.08,
            "chance_object": 0.25,
        }

    rows = [row("soft_attention", s, 0.5 + s / 10, 0.3) for s in range(3)]
    rows += [row("baseline", s, None, 0.6) for s in range(3)]
    lines = bench.markdown(rows).splitlines()
    assert lines[2].startswith("| baseline | 3 | 0.910 ± 0.010 | – | – | 0.600 ± 0.000 |")
    assert lines[3].startswith("| soft_attention | 3 | 0.910 ± 0.010 | 0.600 ± 0.100 | 0.900")
    assert "in a part box 0.080" in lines[-1]


def test_recorded_soft_attention_map_finds_parts_as_often_as_baseline_grad_cam():
    """Issue 13 item 6: the attention model's own map against a post-hoc explanation."""
    path = ROOT / "benchmarks/results/attention_localization.json"
    data = json.loads(path.read_text())["data"]
    assert data["budget"]["difficulty"] == 0.3 and data["budget"]["epochs"] == 4

    def scores(model, column):
        return [r[column] for r in data["rows"] if r["model"] == model]

    own = scores("soft_attention", "own map in part")
    cam = scores("baseline", "Grad-CAM in part")
    plain = scores("soft_attention (plain gradient)", "own map in part")
    assert len(own) >= 3 and len(cam) >= 3 and len(plain) >= 3
    assert np.mean(own) >= np.mean(cam)
    assert np.mean(own) > np.mean(plain)
