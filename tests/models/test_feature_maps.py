"""`fgkeras.models.backbones.feature_maps`: a trained backbone's layers, run on images."""

import keras
import numpy as np
import pytest

import fgkeras
from fgkeras.models.backbones import feature_maps


def test_feature_maps_of_a_zoo_model_match_its_backbone_and_feature_map():
    model = fgkeras.build(
        "baseline", num_classes=4, backbone="tiny", weights=None, input_shape=(28, 28, 1)
    )
    images = np.random.default_rng(0).uniform(0, 255, (3, 28, 28, 1)).astype("float32")
    maps = feature_maps(model, images)
    assert list(maps) == [
        "tiny_stage1_conv2_relu",
        "tiny_stage2_conv2_relu",
        "tiny_stage3_conv2_relu",
    ]
    assert [m.shape for m in maps.values()] == [(3, 28, 28, 32), (3, 14, 14, 64), (3, 7, 7, 128)]
    assert all(np.all(m >= 0) for m in maps.values())  # after ReLU
    # The deepest map is what the model pools: its `feature_map` layer, in inference mode.
    probe = keras.Model(model.input, model.get_layer("feature_map").output)
    expected = np.asarray(probe(images, training=False))
    np.testing.assert_allclose(maps["tiny_stage3_conv2_relu"], expected, atol=1e-5)


def test_feature_maps_by_name_and_unknown_names():
    backbone = fgkeras.models.backbones.build_backbone("tiny", (16, 16, 3), weights=None)
    maps = feature_maps(backbone, np.zeros((1, 16, 16, 3)), ["tiny_stage1_conv1"])
    assert {name: m.shape for name, m in maps.items()} == {"tiny_stage1_conv1": (1, 16, 16, 32)}
    with pytest.raises(ValueError, match="no layer named 'conv9'.*Received: layer_names"):
        feature_maps(backbone, np.zeros((1, 16, 16, 3)), ["conv9"])
