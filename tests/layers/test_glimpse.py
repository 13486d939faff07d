"""Glimpse sensor, glimpse boxes and Passthrough: contract, NumPy reference, gradients."""

import numpy as np
import pytest
import tensorflow as tf

from fgkeras.layers import GlimpseBoxes, GlimpseSensor, Passthrough
from fgkeras.layers.glimpse import extract_glimpses, glimpse_boxes
from fgkeras.testing import check_layer_contract, random_inputs


def numpy_bilinear(image, y, x):
    """Bilinear value of ``image`` (H, W, C) at pixel coordinates (y, x), edges clamped."""
    height, width = image.shape[:2]
    y, x = np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
    dy, dx = y - y0, x - x0
    top = image[y0, x0] * (1 - dx) + image[y0, x1] * dx
    bottom = image[y1, x0] * (1 - dx) + image[y1, x1] * dx
    return top * (1 - dy) + bottom * dy


def numpy_glimpses(images, locations, size, scales, glimpse_size):
    """The documented sampling, written out pixel by pixel."""
    batch, height, width, channels = images.shape
    out = np.zeros((batch, scales, size, size, channels))
    for b in range(batch):
        # Base square kept inside the image: centre = 0.5 + l * (0.5 - side / 2).
        cy, cx = 0.5 + locations[b] * (0.5 - glimpse_size / 2)
        for s in range(scales):
            side = glimpse_size * 2**s
            y0, x0 = cy - side / 2, cx - side / 2
            for i in range(size):
                for j in range(size):
                    y = (y0 + (i + 0.5) / size * side) * height - 0.5
                    x = (x0 + (j + 0.5) / size * side) * width - 0.5
                    out[b, s, i, j] = numpy_bilinear(images[b], y, x)
    return out


def test_glimpse_sensor_contract():
    check_layer_contract(
        GlimpseSensor,
        {"output_size": (6, 6), "scales": 2, "glimpse_size": 0.3},
        [(2, 16, 16, 3), (2, 2)],
        (2, 2, 6, 6, 3),
    )


def test_glimpse_boxes_and_passthrough_contracts():
    check_layer_contract(GlimpseBoxes, {"glimpse_size": 0.4}, [(2, 2)] * 3, (2, 3, 4))
    check_layer_contract(Passthrough, {}, [(2, 5), (2, 3, 4)], (2, 5))


def test_glimpse_sensor_matches_numpy_bilinear_sampling():
    images = random_inputs((3, 12, 10, 2), seed=3)
    locations = np.array([[0.0, 0.0], [-0.7, 0.4], [1.0, -1.0]], "float32")
    sensor = GlimpseSensor((7, 7), scales=3, glimpse_size=0.3)
    got = np.asarray(sensor([images, locations]))
    want = numpy_glimpses(images, locations, 7, 3, 0.3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_pixel_aligned_glimpse_is_the_image_block():
    image = np.arange(64, dtype="float32").reshape(1, 8, 8, 1)
    sensor = GlimpseSensor((4, 4), 2, 0.5)
    corner = np.asarray(sensor([image, np.array([[-1.0, -1.0]], "float32")]))
    centre = np.asarray(sensor([image, np.array([[0.0, 0.0]], "float32")]))
    # Half the image at 4×4 pixels: the 4×4 block itself, in the corner or the centre.
    np.testing.assert_array_equal(corner[0, 0, :, :, 0], image[0, :4, :4, 0])
    np.testing.assert_array_equal(centre[0, 0, :, :, 0], image[0, 2:6, 2:6, 0])
    # Scale 1 at the centre is the whole image: each output pixel the mean of a 2×2 block.
    np.testing.assert_allclose(centre[0, 1, :, :, 0], image[0, ::2, ::2, 0] + 4.5, atol=1e-5)


def test_boxes_of_sensor_and_boxes_layer_agree():
    locations = np.array([[0.2, -0.5], [1.0, 1.0]], "float32")
    sensor_boxes = np.asarray(GlimpseSensor((4, 4), 2, 0.25).boxes(locations))
    np.testing.assert_allclose(sensor_boxes[:, 1, 2:] - sensor_boxes[:, 1, :2], 0.5, atol=1e-6)
    steps = np.asarray(GlimpseBoxes(0.25)([locations, -locations]))
    np.testing.assert_allclose(steps[:, 0], sensor_boxes[:, 0], atol=1e-6)
    np.testing.assert_allclose(steps[1, 0], [0.75, 0.75, 1.0, 1.0], atol=1e-6)  # against the edge
    assert steps.min() >= 0.0 and steps.max() <= 1.0


def test_gradient_to_the_location_matches_finite_differences():
    images = tf.constant(random_inputs((2, 9, 9, 1), seed=1).astype("float64"))
    locations = tf.constant([[0.13, -0.31], [-0.42, 0.27]], "float64")
    weights = tf.constant(random_inputs((2, 2, 5, 5, 1), seed=2).astype("float64"))

    def score(loc):
        return tf.reduce_sum(weights * extract_glimpses(images, loc, (5, 5), 2, 0.4))

    with tf.GradientTape() as tape:
        tape.watch(locations)
        value = score(locations)
    gradient = tape.gradient(value, locations).numpy()
    eps, numeric = 1e-6, np.zeros((2, 2))
    for b in range(2):
        for k in range(2):
            step = np.zeros((2, 2))
            step[b, k] = eps
            numeric[b, k] = (score(locations + step) - score(locations - step)).numpy() / (2 * eps)
    assert np.all(np.abs(gradient) > 1e-3)  # the crop moves with the location
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-7)


def test_glimpse_boxes_helper_scales_double():
    boxes = np.asarray(glimpse_boxes(np.zeros((1, 2), "float32"), 0.2, 3))
    np.testing.assert_allclose(boxes[0, :, 2] - boxes[0, :, 0], [0.2, 0.4, 0.8], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"output_size": (4,)}, "output_size"),
        ({"output_size": (4, 4), "scales": 0}, "scales"),
        ({"output_size": (4, 4), "glimpse_size": 0.0}, "glimpse_size"),
        ({"output_size": (4, 4), "glimpse_size": 1.5}, "glimpse_size"),
    ],
)
def test_bad_sensor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GlimpseSensor(**kwargs)


def test_sensor_and_boxes_refuse_wrong_inputs():
    with pytest.raises(ValueError, match=r"\[images, locations\]"):
        GlimpseSensor((4, 4))(np.zeros((1, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match="list of"):
        GlimpseBoxes()(np.zeros((1, 2), "float32"))
