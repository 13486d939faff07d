"""Every transform, eagerly and inside Dataset.map (graph mode)."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from fgkeras.data import transforms


def run_both(fn, *args):
    """Return (eager result, result of the same call inside Dataset.map)."""
    eager = fn(*args)
    ds = tf.data.Dataset.from_tensors(tuple(args)).map(lambda *a: fn(*a))
    return eager, next(iter(ds))


def encode(arr, fmt, mode=None):
    buf = io.BytesIO()
    img = Image.fromarray(arr)
    if mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode:
        img = img.convert(mode)
    img.save(buf, fmt)
    return buf.getvalue()


RGB = np.zeros((6, 8, 3), np.uint8)
RGB[:3] = (200, 40, 20)
RGB[3:] = (10, 90, 220)


@pytest.mark.parametrize(
    "fmt,mode,expect",
    [
        ("PNG", None, RGB),
        ("PNG", "RGBA", RGB),
        ("PNG", "L", None),
        ("PNG", "P", RGB),
        ("JPEG", "CMYK", RGB),
        ("BMP", None, RGB),
    ],
)
def test_decode_formats_and_modes(fmt, mode, expect):
    data = encode(RGB, fmt, mode)
    eager, graph = run_both(lambda b: transforms.decode({"encoded": b})["image"], tf.constant(data))
    for out in (eager, graph):
        assert out.shape == (6, 8, 3) and out.dtype == tf.uint8
        if expect is not None:
            pil = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            np.testing.assert_allclose(out.numpy(), pil, atol=2)
            np.testing.assert_allclose(out.numpy(), expect, atol=25)
        else:  # grey repeated to 3 channels
            assert np.all(out.numpy()[..., 0] == out.numpy()[..., 2])


def test_decode_16bit_png_scales_to_8bit():
    arr16 = (np.arange(48, dtype=np.uint16).reshape(4, 4, 3) * 1000).astype(np.uint16)
    data = tf.io.encode_png(arr16)
    eager, graph = run_both(lambda b: transforms.decode({"encoded": b})["image"], data)
    for out in (eager, graph):
        np.testing.assert_allclose(out.numpy(), arr16 // 257, atol=1)


def test_decode_arrays_and_channels():
    grey = np.full((5, 5, 1), 9, np.uint8)
    eager, graph = run_both(lambda x: transforms.decode({"image": x})["image"], grey)
    assert eager.shape == graph.shape == (5, 5, 3)
    eager, graph = run_both(lambda x: transforms.decode({"image": x}, 1)["image"], RGB)
    assert eager.shape == graph.shape == (6, 8, 1)


def test_decode_tiff_through_pil(tmp_path):
    path = str(tmp_path / "a.tif")
    Image.fromarray(RGB).save(path)
    fn = lambda p, d: transforms.decode({"path": p, "decoder": d})["image"]  # noqa: E731
    eager, graph = run_both(fn, tf.constant(path), tf.constant(1, tf.int8))
    for out in (eager, graph):
        np.testing.assert_array_equal(out.numpy(), RGB)


def test_order_boxes():
    boxes = tf.constant([[0.9, 0.8, 0.1, 0.2], [-1.0, 0.0, 2.0, 0.5]])
    eager, graph = run_both(transforms.order_boxes, boxes)
    want = [[0.1, 0.2, 0.9, 0.8], [0.0, 0.0, 1.0, 0.5]]
    for out in (eager, graph):
        np.testing.assert_allclose(out.numpy(), want, atol=1e-6)


def test_reframe_boxes_and_keypoints():
    def fn(bbox, parts, window):
        out = transforms.reframe({"bbox": bbox, "parts": parts}, window)
        return out["bbox"], out["parts"]

    bbox = tf.constant([0.25, 0.25, 0.75, 0.75])
    parts = tf.constant([[0.5, 0.5, 1.0], [0.1, 0.1, 1.0]])
    window = tf.constant([0.0, 0.0, 0.5, 0.5])
    for box, kp in run_both(fn, bbox, parts, window):
        np.testing.assert_allclose(box.numpy(), [0.5, 0.5, 1.0, 1.0], atol=1e-6)
        np.testing.assert_allclose(kp.numpy(), [[1.0, 1.0, 1.0], [0.2, 0.2, 1.0]], atol=1e-6)
    # a keypoint outside the window becomes invisible
    _, kp = fn(bbox, parts, tf.constant([0.6, 0.6, 1.0, 1.0]))
    assert kp.numpy()[:, 2].tolist() == [0.0, 0.0]


def test_crop_window_center_and_random():
    shape = tf.constant([100, 200, 3])
    eager, graph = run_both(lambda s: transforms.crop_window(s, 50, 100), shape)
    for out in (eager, graph):
        np.testing.assert_allclose(out.numpy(), [0.25, 0.375, 0.75, 0.625], atol=1e-6)

    def rnd(s, seed):
        return transforms.crop_window(s, 50, 100, "random", seed)

    a, b = run_both(rnd, shape, tf.constant([1, 2], tf.int64))
    np.testing.assert_allclose(a.numpy(), b.numpy())  # stateless: same seed, same crop
    c = rnd(shape, tf.constant([3, 4], tf.int64))
    assert not np.allclose(a.numpy(), c.numpy())
    w = a.numpy()
    np.testing.assert_allclose([w[2] - w[0], w[3] - w[1]], [0.5, 0.25], atol=1e-6)
    assert w.min() >= 0 and w.max() <= 1


def test_crop_window_within_bbox():
    out = transforms.crop_window(
        tf.constant([100, 100]), 10, None, bbox=tf.constant([0.5, 0, 0.1, 1])
    )
    np.testing.assert_allclose(out.numpy(), [0.1, 0.0, 0.5, 1.0], atol=1e-6)


def test_crop_and_resize_matches_tf_resize_on_full_window():
    img = tf.random.stateless_uniform([37, 53, 3], seed=[0, 1], maxval=255.0)
    fn = lambda x: transforms.crop_and_resize(x, tf.constant([0.0, 0.0, 1.0, 1.0]), 16)  # noqa
    want = tf.image.resize(img, [16, 16]).numpy()
    for out in run_both(fn, img):
        np.testing.assert_allclose(out.numpy(), want, atol=1e-3)


def test_resize_example_boxes_follow_pixels():
    """A white square marked by bbox stays under the transformed bbox after a random crop."""
    img = np.zeros((80, 120, 3), np.uint8)
    img[20:50, 40:90] = 255
    bbox = tf.constant([20 / 80, 40 / 120, 50 / 80, 90 / 120])

    def fn(image, box, seed):
        out = transforms.resize_example({"image": image, "bbox": box}, 40, 60, "random", seed)
        return out["image"], out["bbox"]

    for image, box in run_both(fn, img, bbox, tf.constant([5, 6], tf.int64)):
        image, box = image.numpy(), box.numpy() * 40
        y0, x0, y1, x1 = np.round(box).astype(int)
        inside = image[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1]
        assert inside.size and inside.min() > 250
        outside = image.copy()
        outside[max(0, y0 - 1) : y1 + 1, max(0, x0 - 1) : x1 + 1] = 0
        assert outside.max() < 5


def test_bbox_crop():
    img = np.zeros((50, 50, 3), np.uint8)
    img[10:30, 20:40] = 200
    bbox = tf.constant([0.2, 0.4, 0.6, 0.8])

    def fn(image, box):
        out = transforms.resize_example({"image": image, "bbox": box}, 10, bbox_crop=True)
        return out["image"], out["bbox"]

    for image, box in run_both(fn, img, bbox):
        assert image.numpy().min() > 199
        np.testing.assert_allclose(box.numpy(), [0, 0, 1, 1], atol=1e-6)


@pytest.mark.parametrize("mode", ["mixup", "cutmix", "mixup_cutmix"])
def test_mix_batch(mode):
    x = tf.stack([tf.zeros([8, 8, 3]), tf.fill([8, 8, 3], 100.0), tf.fill([8, 8, 3], 200.0)])
    y = tf.constant([0, 1, 2])
    fn = lambda a, b, s: transforms.mix_batch(a, b, 3, mode, s)  # noqa: E731
    (ex, ey), (gx, gy) = run_both(fn, x, y, tf.constant([7, 8], tf.int64))
    np.testing.assert_allclose(ex.numpy(), gx.numpy(), atol=1e-4)
    np.testing.assert_allclose(ey.numpy(), gy.numpy(), atol=1e-6)
    ey = ey.numpy()
    np.testing.assert_allclose(ey.sum(1), 1.0, atol=1e-6)
    # partner of i is i-1 (roll by one); label weight equals the pixel share of each image
    for i in range(3):
        j = (i - 1) % 3
        own = ey[i, i]
        mean_pixel = ex.numpy()[i].mean()
        expected = own * x[i].numpy().mean() + (1 - own) * x[j].numpy().mean()
        assert abs(mean_pixel - expected) < 1e-2


def test_mix_batch_bad_mode():
    with pytest.raises(ValueError, match="mixing"):
        transforms.mix_batch(tf.zeros([2, 4, 4, 3]), tf.constant([0, 1]), 2, "blend")
