import keras
import numpy as np
import pytest
import tensorflow as tf

from fgkeras.layers import ImagePreprocessing
from fgkeras.testing import check_layer_contract, random_inputs


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf"])
def test_matches_keras_applications(mode):
    pixels = random_inputs((2, 4, 4, 3), low=0, high=255)
    expected = keras.applications.imagenet_utils.preprocess_input(pixels.copy(), mode=mode)
    np.testing.assert_allclose(ImagePreprocessing(mode)(pixels), expected, rtol=1e-5, atol=1e-4)


def test_unit_and_none():
    pixels = random_inputs((1, 2, 2, 3), low=0, high=255)
    np.testing.assert_allclose(ImagePreprocessing("unit")(pixels), pixels / 255.0, rtol=1e-6)
    np.testing.assert_allclose(ImagePreprocessing("none")(pixels), pixels)


def test_contract():
    check_layer_contract(ImagePreprocessing, {"mode": "caffe"}, (2, 3, 3, 3), (2, 3, 3, 3))


def test_inside_dataset_map():
    pixels = random_inputs((4, 3, 3, 3), low=0, high=255)
    layer = ImagePreprocessing("tf")
    mapped = next(iter(tf.data.Dataset.from_tensor_slices(pixels).batch(4).map(layer)))
    np.testing.assert_allclose(mapped, pixels / 127.5 - 1, rtol=1e-5, atol=1e-6)


def test_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        ImagePreprocessing("bgr")
