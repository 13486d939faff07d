import numpy as np
import pytest
import tensorflow as tf

import fgkeras.data as fd

SYN = {"num_examples": 24, "num_classes": 4}


def batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def test_load_synthetic_contract():
    ds = fd.load("synthetic", "train", image_size=48, batch_size=8, **SYN)
    x, y = next(iter(ds))
    assert x.shape == (8, 48, 48, 3) and x.dtype == tf.float32
    assert y.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 255.0
    assert float(tf.reduce_max(x)) > 1.0  # raw 0-255, not rescaled
    assert ds.class_names == fd.synthetic.class_info(4).class_names
    assert sum(int(b[1].shape[0]) for b in batches(ds)) == 24


def test_images_match_source_pixels_at_native_size():
    ds = fd.load("synthetic", "test", image_size=64, batch_size=24, **SYN)
    x, y = next(iter(ds))
    data = fd.synthetic.generate(24, num_classes=4, split="test")
    np.testing.assert_allclose(x.numpy(), data.images.astype(np.float32), atol=1e-3)
    np.testing.assert_array_equal(y.numpy(), data.labels)


def test_training_batches_differ_between_epochs_but_repeat_by_seed():
    kw = dict(image_size=40, resize_size=56, batch_size=24, seed=5, **SYN)
    ds = fd.load("synthetic", "train", **kw)
    epoch1, epoch2 = batches(ds), batches(ds)
    assert not np.array_equal(epoch1[0][1], epoch2[0][1]) or not np.allclose(
        epoch1[0][0], epoch2[0][0]
    )
    again = batches(fd.load("synthetic", "train", deterministic=True, **kw))
    again2 = batches(fd.load("synthetic", "train", deterministic=True, **kw))
    for (xa, ya), (xb, yb) in zip(again, again2):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_allclose(xa, xb)


def test_evaluation_batches_identical_run_to_run():
    kw = dict(image_size=40, resize_size=56, batch_size=8, **SYN)
    ds = fd.load("synthetic", "test", **kw)
    first, second = batches(ds), batches(ds)
    third = batches(fd.load("synthetic", "test", **kw))
    for (a, la), (b, lb), (c, lc) in zip(first, second, third):
        np.testing.assert_array_equal(la, lb)
        np.testing.assert_array_equal(la, lc)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_features_dict_and_boxes_follow_crop():
    feats = ("bbox", "part_bbox", "attributes", "text", "hierarchy")
    ds = fd.load("synthetic", "test", image_size=32, resize_size=48, batch_size=4,
                 features=feats, **SYN)  # fmt: skip
    x, y = next(iter(ds))
    assert set(x) == {"image", *feats}
    assert x["bbox"].shape == (4, 4) and x["part_bbox"].shape == (4, 3, 4)
    assert x["text"].dtype == tf.string and x["hierarchy"].dtype == tf.int32
    assert x["hierarchy"].numpy()[:, 2].tolist() == y.numpy().tolist()
    # centre crop 32 of 48 = source pixels 10.67..53.33 of 64, rounded to 11..53
    full = fd.load("synthetic", "test", image_size=64, batch_size=4, features=("bbox",), **SYN)
    big = next(iter(full))[0]["bbox"].numpy()
    want = np.clip((big - 11 / 64) / (42 / 64), 0, 1)
    np.testing.assert_allclose(x["bbox"].numpy(), want, atol=1e-5)


def test_bbox_crop_changes_images():
    plain = next(iter(fd.load("synthetic", "test", image_size=32, batch_size=4, **SYN)))[0]
    cropped = next(iter(fd.load("synthetic", "test", image_size=32, batch_size=4,
                                bbox_crop=True, features=("bbox",), **SYN)))[0]  # fmt: skip
    assert not np.allclose(plain.numpy(), cropped["image"].numpy())
    np.testing.assert_allclose(cropped["bbox"].numpy(), np.tile([0, 0, 1, 1], (4, 1)), atol=1e-5)


@pytest.mark.parametrize("mixing", ["mixup", "cutmix", "mixup_cutmix"])
def test_mixing_gives_one_hot_float_labels(mixing):
    ds = fd.load("synthetic", "train", image_size=32, batch_size=8, mixing=mixing, seed=1, **SYN)
    x, y = next(iter(ds))
    assert y.shape == (8, 4) and y.dtype == tf.float32
    np.testing.assert_allclose(y.numpy().sum(1), 1.0, atol=1e-5)


def test_limit_and_channels():
    ds = fd.load("synthetic", "test", image_size=16, batch_size=5, limit=7, channels=1, **SYN)
    sizes = [x.shape for x, _ in ds]
    assert sizes == [(5, 16, 16, 1), (2, 16, 16, 1)]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"image_size": 0}, "image_size"),
        ({"resize_size": 8}, "resize_size"),
        ({"crop": "random"}, "needs resize_size"),
        ({"crop": "corner"}, "crop"),
        ({"mixing": "blend"}, "mixing"),
        ({"features": "bbox"}, "features"),
        ({"features": ("bbox",), "mixing": "mixup"}, "mixing"),
        ({"channels": 2}, "channels"),
        ({"on_error": "ignore"}, "on_error"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fd.load("synthetic", image_size=kwargs.pop("image_size", 32), **kwargs, **SYN)


def test_missing_feature_is_named():
    with pytest.raises(ValueError, match="has no feature.*'parts'"):
        fd.load("synthetic", features=("parts",), **SYN)


def test_unknown_source_suggests_close_names():
    with pytest.raises(
        ValueError, match=r"Unknown source 'synthtic'.*Did you mean \['synthetic'\]"
    ):
        fd.load("synthtic")


def test_list_sources():
    names = fd.list_sources()
    for name in ("synthetic", "cub200", "stanford_dogs", "stanford_cars", "oxford_flowers102",
                 "oxford_iiit_pet", "inaturalist2017", "inaturalist2021", "fashion_mnist",
                 "fashion_mnist_tops", "folder", "csv", "cub200_raw", "fgvc_aircraft",
                 "tfrecord"):  # fmt: skip
        assert name in names
