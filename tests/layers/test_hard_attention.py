import numpy as np
import pytest
import tensorflow as tf

from fgkeras.layers import (
    AttentionCropZoom,
    AttentionGuidedCrop,
    AttentionGuidedDrop,
    TopRegionCrop,
)
from fgkeras.layers.cropping import attention_boxes, boxcar_mask, crop_and_resize, drop_mask
from fgkeras.testing import check_layer_contract, random_inputs


def numpy_crop_and_resize(images, boxes, size):
    batch, height, width, channels = images.shape
    out = np.zeros((batch, *size, channels), "float32")
    for b in range(batch):
        y0, x0, y1, x1 = boxes[b]
        for i in range(size[0]):
            y = np.clip((y0 + (i + 0.5) / size[0] * (y1 - y0)) * height - 0.5, 0, height - 1)
            for j in range(size[1]):
                x = np.clip((x0 + (j + 0.5) / size[1] * (x1 - x0)) * width - 0.5, 0, width - 1)
                ya, xa = int(np.floor(y)), int(np.floor(x))
                yb, xb = min(ya + 1, height - 1), min(xa + 1, width - 1)
                dy, dx = y - ya, x - xa
                out[b, i, j] = (
                    images[b, ya, xa] * (1 - dy) * (1 - dx)
                    + images[b, ya, xb] * (1 - dy) * dx
                    + images[b, yb, xa] * dy * (1 - dx)
                    + images[b, yb, xb] * dy * dx
                )
    return out


def numpy_boxcar(boxes, size, k):
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    ys, xs = np.arange(size[0]) + 0.5, np.arange(size[1]) + 0.5
    rows = sig(k * (ys - boxes[:, :1] * size[0])) - sig(k * (ys - boxes[:, 2:3] * size[0]))
    cols = sig(k * (xs - boxes[:, 1:2] * size[1])) - sig(k * (xs - boxes[:, 3:4] * size[1]))
    return (rows[:, :, None] * cols[:, None, :])[..., None]


BOXES = np.array([[0.1, 0.2, 0.7, 0.9], [0.0, 0.0, 1.0, 1.0], [-0.2, 0.5, 0.4, 1.3]], "float32")


def test_crop_and_resize_matches_numpy():
    images = random_inputs((3, 9, 11, 2), seed=5)
    for size in [(4, 5), (13, 7)]:
        np.testing.assert_allclose(
            crop_and_resize(images, BOXES, size),
            numpy_crop_and_resize(images, BOXES, size),
            rtol=1e-5,
            atol=1e-5,
        )


def test_full_box_at_same_size_is_identity():
    images = random_inputs((2, 6, 6, 3))
    boxes = np.tile([[0.0, 0.0, 1.0, 1.0]], (2, 1)).astype("float32")
    np.testing.assert_allclose(crop_and_resize(images, boxes, (6, 6)), images, atol=1e-6)


def test_boxcar_mask_matches_numpy():
    np.testing.assert_allclose(
        boxcar_mask(BOXES, (8, 10), 3.0), numpy_boxcar(BOXES, (8, 10), 3.0), atol=1e-6
    )


def test_attention_crop_zoom_contract():
    check_layer_contract(
        AttentionCropZoom, {"output_size": (5, 5)}, [(2, 8, 8, 3), (2, 3)], (2, 5, 5, 3)
    )


def test_attention_crop_zoom_matches_numpy():
    images = random_inputs((2, 12, 12, 3), seed=7)
    params = np.array([[0.4, 0.6, 0.25], [0.5, 0.5, 0.5]], "float32")
    crops, mask = AttentionCropZoom((6, 6), sharpness=2.0, return_mask=True)([images, params])
    boxes = np.concatenate([params[:, :2] - params[:, 2:], params[:, :2] + params[:, 2:]], axis=1)
    expected_mask = numpy_boxcar(boxes, (12, 12), 2.0)
    np.testing.assert_allclose(mask, expected_mask, atol=1e-6)
    expected = numpy_crop_and_resize(images * expected_mask, boxes, (6, 6))
    np.testing.assert_allclose(crops, expected, rtol=1e-5, atol=1e-5)


def test_attention_crop_zoom_is_differentiable_in_the_box():
    images = tf.constant(random_inputs((2, 16, 16, 3), seed=1))
    params = tf.constant([[0.4, 0.5, 0.2], [0.6, 0.4, 0.3]])
    layer = AttentionCropZoom((8, 8))
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = tf.reduce_sum(layer([images, params]) * tf.range(8.0)[None, :, None, None])
    gradient = tape.gradient(loss, params).numpy()
    assert np.all(np.isfinite(gradient)) and np.all(np.abs(gradient) > 0)


def test_top_region_crop_matches_numpy():
    images = random_inputs((2, 8, 8, 1), seed=2)
    attention = np.zeros((2, 4, 4, 2), "float32")
    attention[0, 1, 2, 0] = 5.0  # peak at cell (1, 2): centre (0.375, 0.625)
    attention[1, 3, 0, 1] = 5.0  # peak in a corner: the box is shifted inside
    layer = TopRegionCrop((4, 4), crop_fraction=0.5)
    expected_boxes = np.array([[0.125, 0.375, 0.625, 0.875], [0.5, 0.0, 1.0, 0.5]], "float32")
    np.testing.assert_allclose(layer.boxes(attention), expected_boxes, atol=1e-6)
    np.testing.assert_allclose(
        layer([images, attention]),
        numpy_crop_and_resize(images, expected_boxes, (4, 4)),
        atol=1e-5,
    )


def test_top_region_crop_contract():
    check_layer_contract(
        TopRegionCrop, {"output_size": (4, 4)}, [(2, 8, 8, 3), (2, 4, 4, 2)], (2, 4, 4, 3)
    )


def test_attention_boxes_matches_numpy():
    attention = random_inputs((3, 5, 6), seed=9)
    thresholds = np.array([0.3, 0.6, 0.9], "float32")
    boxes = np.asarray(attention_boxes(attention, thresholds, padding=0.05))
    for b in range(3):
        inside = attention[b] >= thresholds[b] * attention[b].max()
        rows, cols = np.nonzero(inside)
        expected = [
            max(rows.min() / 5 - 0.05, 0),
            max(cols.min() / 6 - 0.05, 0),
            min((rows.max() + 1) / 5 + 0.05, 1),
            min((cols.max() + 1) / 6 + 0.05, 1),
        ]
        np.testing.assert_allclose(boxes[b], expected, atol=1e-6)


def test_attention_guided_crop_and_drop_match_numpy():
    images = random_inputs((2, 6, 6, 3), seed=3)
    attention = random_inputs((2, 6, 6, 1), seed=4)
    crop = AttentionGuidedCrop((3, 3), threshold=0.7, padding=0.0)([images, attention])
    boxes = np.asarray(attention_boxes(attention, 0.7, 0.0))
    np.testing.assert_allclose(crop, numpy_crop_and_resize(images, boxes, (3, 3)), atol=1e-5)
    dropped = AttentionGuidedDrop(threshold=0.7)([images, attention])
    a = attention[..., 0] / attention[..., 0].max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(dropped, images * (a < 0.7)[..., None], atol=1e-6)
    np.testing.assert_allclose(drop_mask(attention, (6, 6), 0.7)[..., 0], a < 0.7)


def test_attention_guided_crop_and_drop_contracts():
    check_layer_contract(
        AttentionGuidedCrop,
        {"output_size": (4, 4), "threshold": 0.3},
        [(2, 8, 8, 3), (2, 4, 4, 2)],
        (2, 4, 4, 3),
    )
    check_layer_contract(
        AttentionGuidedDrop, {"threshold": 0.4}, [(2, 8, 8, 3), (2, 4, 4, 2)], (2, 8, 8, 3)
    )


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (AttentionCropZoom, {"output_size": (0, 4)}, "output_size"),
        (AttentionCropZoom, {"output_size": (4, 4), "sharpness": 0}, "sharpness"),
        (TopRegionCrop, {"output_size": (4, 4), "crop_fraction": 1.5}, "crop_fraction"),
        (AttentionGuidedCrop, {"output_size": 4}, "output_size"),
        (AttentionGuidedDrop, {"threshold": -0.1}, "threshold"),
    ],
)
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_needs_two_inputs():
    with pytest.raises(ValueError, match="images"):
        AttentionGuidedDrop()(random_inputs((1, 4, 4, 3)))


def test_boxcar_mask_layer_contract_and_values():
    from fgkeras.layers import BoxcarMask

    check_layer_contract(BoxcarMask, {"sharpness": 2.0}, [(2, 8, 8, 3), (2, 3)], (2, 8, 8, 1))
    params = np.array([[0.4, 0.6, 0.25]], "float32")
    boxes = np.array([[0.15, 0.35, 0.65, 0.85]], "float32")
    mask = BoxcarMask(3.0)([np.zeros((1, 8, 10, 3), "float32"), params])
    np.testing.assert_allclose(mask, numpy_boxcar(boxes, (8, 10), 3.0), atol=1e-6)


def test_crop_zoom_without_mask_is_a_plain_crop():
    images = random_inputs((1, 8, 8, 2), seed=8)
    params = np.array([[0.5, 0.5, 0.25]], "float32")
    crops = AttentionCropZoom((4, 4), apply_mask=False)([images, params])
    boxes = np.array([[0.25, 0.25, 0.75, 0.75]], "float32")
    np.testing.assert_allclose(crops, numpy_crop_and_resize(images, boxes, (4, 4)), atol=1e-5)


def test_attention_boxes_of_an_empty_map_is_the_whole_image():
    attention = np.zeros((2, 4, 4), "float32")
    attention[1, 2, 2] = 1.0
    boxes = np.asarray(attention_boxes(attention, 0.5, padding=0.0))
    np.testing.assert_allclose(boxes, [[0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.75, 0.75]])
