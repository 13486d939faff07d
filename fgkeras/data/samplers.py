"""Samplers: which examples an epoch draws, in what order (balanced and P×K streams).

``load(..., sampler=...)`` picks one:

- ``None``: every example once per epoch, shuffled for training.
- ``"balanced"``: classes drawn uniformly (long-tailed sets); an epoch keeps
  the split's size. :func:`balanced_stream`.
- ``"pk"``: batches of exactly ``P`` distinct classes × ``K`` images each, for
  metric learning (batch-hard triplet mining needs positives in every batch).
  :func:`pk_stream` draws the elements in batch order; the pipeline keeps
  that order through its parallel map and batches by ``P × K``, or, when an
  unreadable image may be skipped, regroups them with :func:`pk_batches`.

Streams here are unbatched and undecoded (dicts of table columns); the
pipeline (:mod:`fgkeras.data.pipeline`) decodes, resizes and batches them.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import tensorflow as tf

from fgkeras.checks import check_int

SAMPLERS = (None, "balanced", "pk")
DEFAULT_IMAGES_PER_CLASS = 4
DEFAULT_BATCH_SIZE = 32


def pk_sizes(batch_size=None, classes_per_batch=None, images_per_class=None):
    """Resolve ``(batch_size, P, K)`` of a P×K sampler; ``batch_size`` is always ``P × K``.

    Any two of the three fix the third. ``images_per_class`` defaults to 4
    and ``batch_size`` to 32 when fewer than two are given. All three given
    must agree; a ``batch_size`` that ``P`` or ``K`` does not divide is refused.

    Args:
        batch_size: images per batch, or None. Defaults to None.
        classes_per_batch: ``P``, distinct classes per batch, or None. Defaults to None.
        images_per_class: ``K``, images of each class per batch, or None. Defaults to None.

    >>> pk_sizes(classes_per_batch=8, images_per_class=4)
    (32, 8, 4)
    >>> pk_sizes(batch_size=64, images_per_class=8)
    (64, 8, 8)
    >>> pk_sizes()
    (32, 8, 4)
    >>> pk_sizes(batch_size=30, classes_per_batch=8, images_per_class=4)
    Traceback (most recent call last):
    ...
    ValueError: With sampler='pk', batch_size must equal classes_per_batch × images_per_class ...
    """
    b = check_int("batch_size", batch_size, allow_none=True)
    p = check_int("classes_per_batch", classes_per_batch, allow_none=True)
    k = check_int("images_per_class", images_per_class, allow_none=True)
    received = (
        f"Received: batch_size={batch_size!r}, classes_per_batch={classes_per_batch!r}, "
        f"images_per_class={images_per_class!r}"
    )
    if p is not None and k is not None:
        if b is not None and b != p * k:
            raise ValueError(
                f"With sampler='pk', batch_size must equal classes_per_batch × "
                f"images_per_class = {p} × {k} = {p * k}; leave batch_size out (None) to "
                f"get {p * k}. {received}"
            )
        return p * k, p, k
    if p is not None:  # K from the batch size, else the default
        if b is None:
            k = DEFAULT_IMAGES_PER_CLASS
            return p * k, p, k
        if b % p:
            raise ValueError(
                f"With sampler='pk', batch_size ({b}) must be a multiple of classes_per_batch "
                f"({p}): each batch holds classes_per_batch × images_per_class images. {received}"
            )
        return b, p, b // p
    k = DEFAULT_IMAGES_PER_CLASS if k is None else k
    b = DEFAULT_BATCH_SIZE if b is None else b
    if b % k:
        raise ValueError(
            f"With sampler='pk', batch_size ({b}) must be a multiple of images_per_class ({k}): "
            f"each batch holds classes_per_batch × images_per_class images. {received}"
        )
    return b, b // k, k


def balanced_stream(examples, seed=None):
    """Elements with classes drawn uniformly; an epoch keeps the split's size.

    Table sources cycle through each class's examples (reshuffled each pass),
    choosing the class of each element uniformly at random. Stream sources
    are resampled with ``rejection_resample`` (using ``class_counts`` when the
    source knows them); their epoch is as long as the stream lasts.

    Args:
        examples: the :class:`~fgkeras.data.base.Examples` of a split.
        seed: seed of the draws. Defaults to None.

    >>> from fgkeras.data.base import Examples
    >>> ex = Examples("toy", ["a", "b"], table={"label": np.array([0, 0, 0, 1], "int32")})
    >>> labels = [int(e["label"]) for e in balanced_stream(ex, seed=0)]
    >>> len(labels), sorted(set(labels))
    (4, [0, 1])
    """
    num_classes = len(examples.class_names)
    if examples.table is not None:
        table = examples.table
        labels = table["label"]
        per_class = []
        for k in np.flatnonzero(np.bincount(labels, minlength=num_classes)):
            idx = np.flatnonzero(labels == k)
            part = tf.data.Dataset.from_tensor_slices({c: v[idx] for c, v in table.items()})
            per_class.append(part.shuffle(len(idx), seed=seed).repeat())
        ds = tf.data.Dataset.sample_from_datasets(
            per_class, seed=seed, rerandomize_each_iteration=True
        )
        return ds.take(len(labels))
    counts = examples.class_counts
    initial = None
    if counts is not None:
        initial = (np.asarray(counts, np.float64) / max(1, np.sum(counts))).astype(np.float32)
    target = np.full(num_classes, 1.0 / num_classes, np.float32)
    ds = examples.stream.rejection_resample(
        lambda ex: tf.cast(ex["label"], tf.int32),
        target_dist=target,
        initial_dist=initial,
        seed=seed,
    )
    return ds.map(lambda _, ex: ex)


def pk_stream(examples, classes_per_batch, images_per_class, seed=None):
    """Elements in groups of ``P`` distinct classes × ``K`` images, batch after batch.

    Each class's examples repeat, reshuffled on every pass, so within an
    epoch a class shows all its images before it repeats one. Per batch, ``P``
    distinct classes (of those with examples in the split) are drawn with a
    seeded stateless shuffle; ``K`` consecutive examples of each follow,
    class after class. An epoch is ``ceil(num_examples / (P × K))`` batches,
    so it holds the split's size or a little more, and has as many steps as
    the unsampled pipeline: element ``i`` belongs to batch ``i // (P × K)``.
    A class with fewer than ``K`` images repeats images within a batch, with
    one warning naming such classes.

    Args:
        examples: the :class:`~fgkeras.data.base.Examples` of a split, with a table.
        classes_per_batch: ``P``.
        images_per_class: ``K``.
        seed: seed of the class draws and the per-class shuffles. Defaults to None.

    >>> from fgkeras.data.base import Examples
    >>> ex = Examples("toy", list("abc"), table={"label": np.repeat([0, 1, 2], 4).astype("int32")})
    >>> batch = next(iter(pk_stream(ex, 2, 3, seed=0).batch(6)))
    >>> labels = batch["label"].numpy().tolist()
    >>> len(set(labels[:3])), len(set(labels[3:])), labels[0] != labels[3]
    (1, 1, True)
    """
    p, k = classes_per_batch, images_per_class
    if examples.table is None:
        raise ValueError(
            f"sampler='pk' needs a source with a label table (synthetic, folder, csv, "
            f"fashion_mnist from IDX files, cub200_raw, fgvc_aircraft); source "
            f"{examples.name!r} is a stream (tfds or a TFRecord pack), whose labels are only "
            "known while reading. Use sampler='balanced' or None for it, or a folder/CSV copy."
        )
    table = examples.table
    labels = np.asarray(table["label"])
    counts = np.bincount(labels, minlength=len(examples.class_names))
    present = np.flatnonzero(counts)
    if p > len(present):
        raise ValueError(
            f"classes_per_batch ({p}) is more than the {len(present)} classes with examples "
            f"in this split of source {examples.name!r} ({len(examples.class_names)} classes "
            f"in all). Use classes_per_batch <= {len(present)}. "
            f"Received: classes_per_batch={p}"
        )
    few = [examples.class_names[c] for c in present if counts[c] < k]
    if few:
        shown = ", ".join(repr(n) for n in few[:10]) + (", ..." if len(few) > 10 else "")
        warnings.warn(
            f"sampler='pk': {len(few)} class(es) have fewer than images_per_class={k} images "
            f"and are sampled with repetition (the same image more than once in a batch): "
            f"{shown}",
            stacklevel=2,
        )
    per_class = []
    for j, c in enumerate(present):
        idx = np.flatnonzero(labels == c)
        part = tf.data.Dataset.from_tensor_slices({n: v[idx] for n, v in table.items()})
        class_seed = None if seed is None else int(seed) * 100_003 + j
        per_class.append(
            part.shuffle(len(idx), seed=class_seed, reshuffle_each_iteration=True).repeat()
        )
    base = None if seed is None else int(seed) * 1000 + 3
    num_present = len(present)

    def draw(pair_seed):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_present, dtype=tf.int64), seed=pair_seed
        )
        return tf.repeat(order[:p], k)

    choice = (
        tf.data.Dataset.random(seed=base, rerandomize_each_iteration=True)
        .batch(2)
        .map(draw)
        .unbatch()
    )
    batch_size = p * k
    num_batches = max(1, math.ceil(len(labels) / batch_size))
    ds = tf.data.Dataset.choose_from_datasets(per_class, choice, stop_on_empty_dataset=False)
    return ds.take(num_batches * batch_size)


def pk_batches(ds, batch_size):
    """Batch ``(x, y, position)`` elements of a :func:`pk_stream` into exact P×K batches.

    ``position`` is the element's index in the stream. Elements are grouped by
    batch (``position // batch_size``), so a parallel map may finish them in
    any order, and put back in stream order: class after class, ``K`` images
    each, so that splitting a batch into equal consecutive slices (as
    ``tf.distribute`` does across replicas) gives each slice whole classes
    when the slice size is a multiple of ``K``. A batch that lost an element
    (an unreadable image skipped) is dropped whole, never filled with others.

    Args:
        ds: a dataset of ``(features, label, position)``, ``position`` int64.
        batch_size: ``P × K``.

    >>> ds = tf.data.Dataset.from_tensor_slices(([11, 10, 20, 21], [1, 0, 2, 3], [1, 0, 2, 3]))
    >>> [y.numpy().tolist() for _, y in pk_batches(ds, 2)]
    [[0, 1], [2, 3]]
    """

    def reduce(_, window):
        return window.batch(batch_size, drop_remainder=True)

    def in_stream_order(x, y, position):
        idx = tf.argsort(position)
        take = lambda t: tf.gather(t, idx)  # noqa: E731
        return tf.nest.map_structure(take, x), take(y)

    ds = ds.group_by_window(
        key_func=lambda x, y, position: tf.cast(position, tf.int64) // batch_size,
        reduce_func=reduce,
        window_size=batch_size,
    )
    return ds.map(in_stream_order, num_parallel_calls=tf.data.AUTOTUNE)
