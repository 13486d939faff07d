"""Samplers (balanced, P×K) and the ``classes`` filter of ``fgkeras.data.load``."""

import math
import warnings

import numpy as np
import pytest
import tensorflow as tf

import fgkeras.data as fd
import fgkeras.data.sources as src
from fgkeras.data.base import Examples
from fgkeras.data.samplers import pk_batches, pk_sizes

SYN = {"num_examples": 48, "num_classes": 6}
PK = {"image_size": 16, "sampler": "pk", **SYN}


def labels_of(ds, epochs=1):
    return [y.numpy() for _ in range(epochs) for _, y in ds]


def assert_pk(labels, p, k):
    """Every batch: exactly p distinct classes, k consecutive images of each."""
    assert labels.shape == (p * k,), labels
    groups = labels.reshape(p, k)
    assert (groups == groups[:, :1]).all(), labels
    assert len(set(groups[:, 0].tolist())) == p, labels


@pytest.fixture
def register(monkeypatch):
    """Register ``Examples`` under a source name for this test only."""

    def add(name, examples):
        monkeypatch.setitem(src.SOURCES, name, lambda split="train", **kw: examples)
        return name

    return add


def long_tail(counts=(50, 20, 6, 2)):
    data = fd.synthetic.generate(200, num_classes=len(counts))
    keep = np.concatenate([np.flatnonzero(data.labels == k)[:n] for k, n in enumerate(counts)])
    table = {"image": data.images[keep], "label": data.labels[keep]}
    return Examples("tail", list("abcdefgh"[: len(counts)]), table=table)


def test_pk_batches_hold_p_classes_times_k_images_and_cover_all_classes():
    ds = fd.load("synthetic", classes_per_batch=3, images_per_class=4, seed=1, **PK)
    per_epoch = labels_of(ds)
    assert len(per_epoch) == math.ceil(48 / 12)  # an epoch has the unsampled step count
    batches = per_epoch + labels_of(ds, epochs=4)
    for labels in batches:
        assert_pk(labels, 3, 4)
    assert set(np.concatenate(batches).tolist()) == set(range(6))
    x, y = next(iter(ds))
    assert x.shape == (12, 16, 16, 3) and y.dtype == tf.int32


def test_pk_repeats_by_seed_when_deterministic():
    kw = dict(classes_per_batch=2, images_per_class=3, deterministic=True, **PK)
    first = labels_of(fd.load("synthetic", seed=4, **kw))
    again = labels_of(fd.load("synthetic", seed=4, **kw))
    other = labels_of(fd.load("synthetic", seed=5, **kw))
    assert [a.tolist() for a in first] == [b.tolist() for b in again]
    assert [a.tolist() for a in first] != [b.tolist() for b in other]


def test_pk_with_features_on_a_folder_source(class_folder):
    ds = fd.load(str(class_folder), image_size=8, sampler="pk", classes_per_batch=2,
                 images_per_class=2, seed=0)  # fmt: skip
    batches = labels_of(ds, epochs=3)
    assert len(batches) == 3 * math.ceil(12 / 4)
    for labels in batches:
        assert_pk(labels, 2, 2)
    feats = fd.load("synthetic", classes_per_batch=2, images_per_class=2,
                    features=("hierarchy", "text"), seed=0, **PK)  # fmt: skip
    x, y = next(iter(feats))
    assert set(x) == {"image", "hierarchy", "text"} and x["text"].shape == (4,)
    assert x["hierarchy"].numpy()[:, 2].tolist() == y.numpy().tolist()


def test_pk_small_class_is_repeated_with_one_warning(register):
    name = register("tail", long_tail((9, 9, 2)))
    with pytest.warns(UserWarning) as caught:
        ds = fd.load(name, image_size=16, sampler="pk", classes_per_batch=3,
                     images_per_class=4, seed=0)  # fmt: skip
    messages = [str(w.message) for w in caught if "images_per_class" in str(w.message)]
    assert len(messages) == 1 and "1 class(es)" in messages[0] and "'c'" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # iterating warns no more
        for _ in range(3):
            for x, y in ds:
                assert_pk(y.numpy(), 3, 4)
                small = x.numpy()[y.numpy() == 2].reshape(4, -1)
                assert len(np.unique(small, axis=0)) <= 2  # its two images, repeated


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"classes_per_batch": 7, "images_per_class": 2}, r"classes_per_batch \(7\) is more"),
        ({"classes_per_batch": 4, "images_per_class": 4, "batch_size": 32}, "must equal"),
        ({"batch_size": 30, "images_per_class": 4}, "multiple of images_per_class"),
        ({"batch_size": 10, "classes_per_batch": 4}, "multiple of classes_per_batch"),
        ({"classes_per_batch": 0}, "classes_per_batch"),
    ],
)
def test_pk_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fd.load("synthetic", **kwargs, **PK)


def test_pk_sizes_rule():
    assert pk_sizes(None, 8, 4) == (32, 8, 4)
    assert pk_sizes(32, 8, 4) == (32, 8, 4)
    assert pk_sizes(48, None, 4) == (48, 12, 4)
    assert pk_sizes(48, 6, None) == (48, 6, 8)
    assert pk_sizes(None, 6, None) == (24, 6, 4)
    assert pk_sizes(None, None, 2) == (32, 16, 2)
    assert pk_sizes() == (32, 8, 4)


def test_pk_needs_a_label_table(register):
    data = fd.synthetic.generate(8, num_classes=2)
    stream = tf.data.Dataset.from_tensor_slices({"image": data.images, "label": data.labels})
    name = register("stream", Examples("stream", ["a", "b"], stream=stream))
    with pytest.raises(ValueError, match="needs a source with a label table"):
        fd.load(name, image_size=16, sampler="pk", classes_per_batch=2)


def test_sampler_arguments_are_checked():
    with pytest.raises(ValueError, match=r"sampler='balanced' instead of balanced=True"):
        fd.load("synthetic", image_size=16, balanced=True, **SYN)
    with pytest.raises(ValueError, match="sampler must be one of"):
        fd.load("synthetic", image_size=16, sampler="uniform", **SYN)
    with pytest.raises(ValueError, match="apply only to sampler='pk'"):
        fd.load("synthetic", image_size=16, images_per_class=4, **SYN)


def test_balanced_sampling_evens_out_a_long_tail(register):
    name = register("tail", long_tail())
    ds = fd.load(name, image_size=16, batch_size=78, sampler="balanced", seed=0)
    labels = np.concatenate(labels_of(ds, epochs=5))
    counts = np.bincount(labels, minlength=4) / len(labels)
    assert len(labels) == 5 * 78
    np.testing.assert_allclose(counts, 0.25, atol=0.06)


def test_classes_by_name_and_index_remap_labels():
    full = fd.load("synthetic", "test", image_size=16, batch_size=48, **SYN)
    names = full.class_names
    sub = fd.load("synthetic", "test", image_size=16, batch_size=48,
                  classes=[names[4], 1], features=("hierarchy",), **SYN)  # fmt: skip
    assert sub.class_names == [names[4], names[1]]
    assert sub.source_info["classes"] == [4, 1]
    assert sub.source_info["hierarchy_names"]["species"] == [names[4], names[1]]
    (x_full, y_full), (x_sub, y_sub) = next(iter(full)), next(iter(sub))
    y_full, y_sub = y_full.numpy(), y_sub.numpy()
    for new, old in enumerate((4, 1)):
        np.testing.assert_allclose(
            x_sub["image"].numpy()[y_sub == new], x_full.numpy()[y_full == old]
        )
    assert x_sub["hierarchy"].numpy()[:, 2].tolist() == y_sub.tolist()
    limited = fd.load("synthetic", "test", image_size=16, batch_size=48, classes=[1],
                      limit=3, **SYN)  # fmt: skip
    assert labels_of(limited)[0].tolist() == [0, 0, 0]  # limit counts after the filter


def test_classes_with_pk_and_a_stream_source(register):
    ds = fd.load("synthetic", classes_per_batch=2, images_per_class=2, classes=[5, 0, 3],
                 seed=0, **PK)  # fmt: skip
    for labels in labels_of(ds, epochs=2):
        assert_pk(labels, 2, 2)
        assert set(labels.tolist()) <= {0, 1, 2}
    data = fd.synthetic.generate(16, num_classes=4)
    stream = tf.data.Dataset.from_tensor_slices({"image": data.images, "label": data.labels})
    name = register("stream", Examples("stream", list("abcd"), stream=stream))
    sub = fd.load(name, image_size=16, batch_size=16, classes=["d", "b"], shuffle=False)
    (_, y), want = next(iter(sub)), data.labels[np.isin(data.labels, [3, 1])]
    assert sub.class_names == ["d", "b"] and y.numpy().tolist() == (want == 1).astype(int).tolist()


@pytest.mark.parametrize(
    "classes,match",
    [
        (
            ["red-crown red-wing red-tale"],
            r"no class .*Did you mean \['red-crown red-wing red-tail'",
        ),
        ([9], "out of range"),
        ([1, 1], "twice"),
        ("red", "non-empty list"),
        ([], "non-empty list"),
    ],
)
def test_bad_classes(classes, match):
    with pytest.raises(ValueError, match=match):
        fd.load("synthetic", image_size=16, classes=classes, **SYN)


def test_pk_batches_drop_a_batch_that_lost_an_element():
    position = tf.constant([3, 1, 2, 4, 0], tf.int64)  # position 5 was skipped
    ds = tf.data.Dataset.from_tensor_slices((tf.range(5), [11, 1, 10, 20, 0], position))
    assert [y.numpy().tolist() for _, y in pk_batches(ds, 2)] == [[10, 11], [0, 1]]
