"""``load``: one call from a source name to a batched, prefetched ``tf.data.Dataset``."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fgkeras.checks import check_int
from fgkeras.data import sources as sources_lib
from fgkeras.data import transforms
from fgkeras.data.base import FEATURE_KEYS

MIXING = (None, "mixup", "cutmix", "mixup_cutmix")
SHUFFLE_BUFFER = 10_000


def load(
    source,
    split="train",
    image_size=224,
    batch_size=32,
    *,
    resize_size=None,
    crop=None,
    shuffle=None,
    seed=None,
    deterministic=False,
    features=None,
    bbox_crop=False,
    mixing=None,
    balanced=False,
    on_error="skip",
    limit=None,
    channels=3,
    **source_kwargs,
):
    """Load a split of a fine-grained dataset as batches of ``(images, labels)``.

    Images are raw 0-255 RGB ``float32 [B, image_size, image_size, channels]``
    (models do their own preprocessing); labels are ``int32 [B]``, or one-hot
    ``float32 [B, num_classes]`` with ``mixing``. The dataset has a
    ``class_names`` attribute, as ``keras.utils.image_dataset_from_directory``.

    Args:
        source: a name from :func:`list_sources` (``"synthetic"``, ``"cub200"``,
            ``"folder"``, ...) or a path: a folder of class subfolders, a CSV
            file, a ``CUB_200_2011`` or FGVC-Aircraft folder, or a folder
            written by ``fgkeras data pack``.
        split: ``"train"``, ``"test"``, ``"validation"``... as the source has.
            Defaults to ``"train"``.
        image_size: output side in pixels. Defaults to 224.
        batch_size: batch size. Defaults to 32.
        resize_size: None resizes the whole image straight to ``image_size``;
            an int resizes the shorter side to it, then crops ``image_size``.
            Defaults to None.
        crop: ``"random"`` or ``"center"``; defaults to ``"random"`` for the
            train split when ``resize_size`` is set, else ``"center"``.
        shuffle: shuffle examples each epoch; defaults to True for ``"train"``.
        seed: seed of shuffling, random crops and mixing. Defaults to None
            (0 when ``deterministic``).
        deterministic: keep the exact element order in parallel stages, so a
            seeded run repeats exactly. Splits that are not shuffled always
            keep their order. Defaults to False.
        features: None for ``(images, labels)``, or a tuple of names from
            ``("bbox", "part_bbox", "parts", "attributes", "text", "hierarchy")``
            for ``(dict(image=..., **features), labels)``. Boxes are normalized
            ``[ymin, xmin, ymax, xmax]`` and follow every crop.
        bbox_crop: crop each image to its object box first. Defaults to False.
        mixing: None, ``"mixup"``, ``"cutmix"`` or ``"mixup_cutmix"``, applied
            to batches in tf.data. Defaults to None.
        balanced: sample classes uniformly (for long-tailed sets); an epoch
            keeps the split's size. Defaults to False.
        on_error: ``"skip"`` unreadable images (with a warning naming them) or
            ``"raise"`` at the first. Defaults to ``"skip"``.
        limit: keep only the first ``limit`` examples. Defaults to None.
        channels: 3 (grey images are repeated) or 1. Defaults to 3.
        **source_kwargs: passed to the source, e.g. ``data_dir``,
            ``num_classes``, ``num_examples``, ``difficulty`` (synthetic).

    Returns:
        A ``tf.data.Dataset`` with a ``class_names`` attribute.

    >>> ds = load("synthetic", "test", image_size=32, batch_size=4, num_examples=8)
    >>> images, labels = next(iter(ds))
    >>> images.shape, labels.dtype.name, ds.class_names[0]
    (TensorShape([4, 32, 32, 3]), 'int32', 'red-crown red-wing red-tail')
    """
    _check_args(image_size, batch_size, resize_size, crop, mixing, features, channels, on_error)
    examples = sources_lib.get_examples(source, split, on_error=on_error, **source_kwargs)
    examples = examples.take(limit)
    features = tuple(features or ())
    missing = [f for f in features if f not in examples.features]
    if missing:
        raise ValueError(
            f"Source {examples.name!r} has no feature(s) {missing}. "
            f"It provides: {list(examples.features) or 'labels only'}."
        )
    if bbox_crop and "bbox" not in examples.features:
        raise ValueError(
            f"bbox_crop=True needs object boxes, and source {examples.name!r} has none. "
            f"It provides: {list(examples.features) or 'labels only'}."
        )
    is_train = split == "train" or str(split).startswith("train[")
    shuffle = is_train if shuffle is None else bool(shuffle)
    if crop is None:
        crop = "random" if (is_train and resize_size is not None) else "center"
    if deterministic and seed is None:
        seed = 0
    keep_order = bool(deterministic) or not shuffle
    num_classes = len(examples.class_names)

    ds = _element_stream(examples, shuffle, balanced, seed)
    needs_random = crop == "random"
    if needs_random:
        ds = tf.data.Dataset.zip((ds, _seeds(seed, 1)))
    else:
        ds = ds.map(lambda ex: (ex, tf.zeros([2], tf.int64)))
    keep = set(features) | ({"bbox"} if bbox_crop else set())

    def prepare(example, crop_seed):
        example = {k: v for k, v in example.items() if k not in FEATURE_KEYS or k in keep}
        # File sources checked every header up front (check_image_files).
        example = transforms.decode(example, channels, header_checked=True)
        example = transforms.resize_example(
            example, image_size, resize_size, crop, crop_seed, bbox_crop=bbox_crop
        )
        label = tf.cast(example.pop("label"), tf.int32)
        if not features:
            return example["image"], label
        out = {"image": example["image"]}
        for key in features:
            value = example[key]
            out[key] = (
                value
                if key == "text"
                else tf.cast(value, tf.int32 if key == "hierarchy" else tf.float32)
            )
        return out, label

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    if on_error == "skip" and "image" not in examples.keys:
        ds = ds.ignore_errors(log_warning=True)
    ds = ds.batch(batch_size)
    if mixing is not None:
        ds = tf.data.Dataset.zip((ds, _seeds(seed, 2)))

        def mix(batch, mix_seed):
            (x, y) = batch
            if features:
                raise ValueError("mixing cannot be combined with features.")
            return transforms.mix_batch(x, y, num_classes, mixing, mix_seed)

        ds = ds.map(mix, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = keep_order  # applies to every parallel map and interleave
    ds = ds.prefetch(tf.data.AUTOTUNE).with_options(options)
    ds.class_names = list(examples.class_names)
    ds.source_info = dict(examples.info, name=examples.name, num_examples=examples.num_examples)
    return ds


def _check_args(image_size, batch_size, resize_size, crop, mixing, features, channels, on_error):
    check_int("image_size", image_size)
    check_int("batch_size", batch_size)
    if resize_size is not None and (not isinstance(resize_size, int) or resize_size < image_size):
        raise ValueError(
            f"resize_size must be None or an integer >= image_size ({image_size}). "
            f"Received: resize_size={resize_size!r}"
        )
    if crop not in (None, "random", "center"):
        raise ValueError(f"crop must be None, 'random' or 'center'. Received: crop={crop!r}")
    if crop == "random" and resize_size is None:
        raise ValueError(
            "crop='random' needs resize_size (e.g. image_size=448, resize_size=512): without "
            "it the whole image is resized to image_size and there is nothing to crop."
        )
    if mixing not in MIXING:
        raise ValueError(f"mixing must be one of {list(MIXING)}. Received: mixing={mixing!r}")
    if mixing is not None and features:
        raise ValueError(
            "mixing mixes images and labels only; it cannot be combined with features. "
            f"Received: mixing={mixing!r}, features={features!r}"
        )
    unknown = [f for f in (features or ()) if f not in FEATURE_KEYS]
    if isinstance(features, str) or unknown:
        raise ValueError(
            f"features must be a tuple of names from {list(FEATURE_KEYS)}. "
            f"Received: features={features!r}"
        )
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3. Received: channels={channels!r}")
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise'. Received: on_error={on_error!r}")


def _seeds(seed, stream):
    """An endless dataset of stateless seeds ([2] int64), new ones each epoch."""
    base = None if seed is None else int(seed) * 1000 + stream
    return tf.data.Dataset.random(seed=base, rerandomize_each_iteration=True).batch(2)


def _element_stream(examples, shuffle, balanced, seed):
    """Unbatched, undecoded elements: shuffled and/or class-balanced as asked."""
    if examples.table is not None:
        table = examples.table
        if balanced:
            labels = table["label"]
            per_class = []
            for k in np.flatnonzero(np.bincount(labels, minlength=len(examples.class_names))):
                idx = np.flatnonzero(labels == k)
                part = tf.data.Dataset.from_tensor_slices({c: v[idx] for c, v in table.items()})
                per_class.append(part.shuffle(len(idx), seed=seed).repeat())
            ds = tf.data.Dataset.sample_from_datasets(
                per_class, seed=seed, rerandomize_each_iteration=True
            )
            return ds.take(len(labels))
        ds = tf.data.Dataset.from_tensor_slices(table)
        if shuffle:
            ds = ds.shuffle(len(table["label"]), seed=seed, reshuffle_each_iteration=True)
        return ds
    ds = examples.stream
    if balanced:
        counts = examples.class_counts
        num_classes = len(examples.class_names)
        initial = None
        if counts is not None:
            initial = (np.asarray(counts, np.float64) / max(1, np.sum(counts))).astype(np.float32)
        target = np.full(num_classes, 1.0 / num_classes, np.float32)
        ds = ds.rejection_resample(
            lambda ex: tf.cast(ex["label"], tf.int32),
            target_dist=target,
            initial_dist=initial,
            seed=seed,
        ).map(lambda _, ex: ex)
    if shuffle:
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    return ds
