"""Registry-wide tests: every registered model keeps the zoo's contract."""

import numpy as np
import pytest

import fgkeras
from fgkeras.models.registry import CAPABILITIES
from fgkeras.testing import CAPABILITY_CHECKS, check_capabilities, check_model_contract

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}


@pytest.mark.parametrize("name", fgkeras.list_models())
def test_model_contract(name):
    model = fgkeras.build(name, num_classes=3, **TINY)
    assert model.name == name
    check_model_contract(model, num_classes=3)


@pytest.mark.parametrize("name", fgkeras.list_models())
def test_declared_capabilities_hold(name):
    card = fgkeras.model_card(name)
    model = fgkeras.build(name, num_classes=3, **TINY)
    assert check_capabilities(model, card, 3) == card["capabilities"]
    assert "classify" in card["capabilities"]  # every model of the zoo classifies
    names = [tensor.name for tensor in model.inputs]  # the image, then any side inputs
    assert card["features"][0] == "image" and names[0] == "image"
    assert set(names) <= set(card["features"]), f"inputs {names} not declared on the card"
    assert card["monitor"].startswith("val_")


def test_every_capability_has_a_check():
    assert set(CAPABILITY_CHECKS) == set(CAPABILITIES)


@pytest.mark.parametrize("name", fgkeras.list_models())
def test_num_classes_override_and_named_layers(name):
    model = fgkeras.build(name, num_classes=7, **TINY)
    assert model.output_shape == (None, 7)
    for layer_name in ("backbone", "feature_map", "pooler", "head_dropout", "predictions"):
        model.get_layer(layer_name)  # raises ValueError if missing


@pytest.mark.parametrize("name", fgkeras.list_models())
def test_freeze_backbone_leaves_only_the_head_trainable(name):
    model = fgkeras.build(name, num_classes=3, freeze_backbone=True, **TINY)
    backbone_weights = {id(w) for w in model.get_layer("backbone").weights}
    assert backbone_weights and not backbone_weights & {id(w) for w in model.trainable_weights}
    assert model.get_layer("predictions").trainable_weights


@pytest.mark.large
@pytest.mark.parametrize("name", fgkeras.list_models())
def test_default_backbone_builds_and_runs(name):
    model = fgkeras.build(name, num_classes=5, weights=None, input_shape=(96, 96, 3))
    logits = np.asarray(model(np.full((1, 96, 96, 3), 100.0, "float32"), training=False))
    assert logits.shape == (1, 5) and np.all(np.isfinite(logits))


@pytest.mark.large
def test_bcnn_vgg16_has_the_papers_classifier():
    model = fgkeras.build("bcnn", num_classes=200, weights=None)
    assert model.input_shape == (None, 448, 448, 3)
    assert model.get_layer("feature_map").output.shape == (None, 28, 28, 512)
    assert model.get_layer("predictions").count_params() == 512 * 512 * 200 + 200


@pytest.mark.large
def test_cbp_vgg16_has_the_papers_classifier():
    model = fgkeras.build("cbp", num_classes=200, weights=None)
    assert model.get_layer("predictions").count_params() == 8192 * 200 + 200


def test_two_stream_bcnn():
    model = fgkeras.build(
        "bcnn", num_classes=3, backbone_b="tiny", weights_b=None, reduce_channels=8, **TINY
    )
    assert model.get_layer("pooler").output.shape == (None, 64)
    assert model.get_layer("backbone_b") is not model.get_layer("backbone")
    check_model_contract(model, num_classes=3)


def test_cbp_random_maclaurin_option():
    model = fgkeras.build(
        "cbp", num_classes=3, projection="random_maclaurin", output_dim=256, **TINY
    )
    assert model.get_layer("compact_bilinear_pooling").projection == "random_maclaurin"
    assert model.get_layer("pooler").output.shape == (None, 256)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "ten", True])
def test_bad_num_classes(bad):
    with pytest.raises(ValueError, match="num_classes"):
        fgkeras.build("baseline", num_classes=bad, **TINY)
