"""``load``: one call from a source name to a batched, prefetched ``tf.data.Dataset``."""

from __future__ import annotations

import dataclasses
import difflib
import numbers

import numpy as np
import tensorflow as tf

from fgkeras.checks import check_int
from fgkeras.data import samplers, transforms
from fgkeras.data import sources as sources_lib
from fgkeras.data.base import FEATURE_KEYS
from fgkeras.data.label_tree import resolve_label_tree

MIXING = (None, "mixup", "cutmix", "mixup_cutmix")
SHUFFLE_BUFFER = 10_000


def load(
    source,
    split="train",
    image_size=224,
    batch_size=None,
    *,
    resize_size=None,
    crop=None,
    shuffle=None,
    seed=None,
    deterministic=False,
    features=None,
    bbox_crop=False,
    mixing=None,
    sampler=None,
    classes_per_batch=None,
    images_per_class=None,
    classes=None,
    label_tree=None,
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
        batch_size: batch size. With ``sampler="pk"`` it is ``classes_per_batch
            × images_per_class`` (see there). Defaults to None: 32, or P × K
            with ``sampler="pk"``.
        resize_size: None resizes the whole image straight to ``image_size``;
            an int resizes the shorter side to it, then crops ``image_size``.
            Defaults to None.
        crop: ``"random"`` or ``"center"``; defaults to ``"random"`` for the
            train split when ``resize_size`` is set, else ``"center"``.
        shuffle: shuffle examples each epoch (``sampler=None``; the samplers
            always draw at random); defaults to True for ``"train"``.
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
        sampler: None (every example once per epoch), ``"balanced"`` (classes
            drawn uniformly, for long-tailed sets; an epoch keeps the split's
            size) or ``"pk"``: every batch holds exactly ``classes_per_batch``
            (P) distinct classes × ``images_per_class`` (K) images each, class
            after class, for metric learning. An epoch of ``"pk"`` is
            ``ceil(num_examples / (P × K))`` batches, as many steps as
            ``sampler=None``; a class with fewer than K images repeats images
            (one warning names them). ``"pk"`` needs a source with a label
            table (not tfds or TFRecord packs). See :mod:`fgkeras.data.samplers`.
            Defaults to None.
        classes_per_batch: P of ``sampler="pk"``, at most the number of
            classes. Any two of ``batch_size``, P and K fix the third, and
            ``batch_size`` must equal P × K (a ValueError says when not).
            Defaults to None: ``batch_size // images_per_class``.
        images_per_class: K of ``sampler="pk"``. Defaults to None: 4, or
            ``batch_size // classes_per_batch``.
        classes: keep only these classes, given as class names or integer
            indices into the source's class names. Labels become ``0 ..
            len(classes) - 1`` in the given order, ``class_names`` lists them
            in that order, and the class level of ``hierarchy`` follows.
            Defaults to None (all classes).
        label_tree: a class hierarchy for any source: a ``{child: parent}``
            dict of names (every class needs a parent; parents may have
            parents), the path of a JSON file holding one, or a
            `fgkeras.data.label_tree.LabelTree`. It replaces the source's
            own hierarchy (after ``classes``): ``source_info`` gets its
            ``hierarchy_levels``, ``hierarchy_names`` and ``class_ancestors``,
            and the ``hierarchy`` feature its per-level node indices. See
            `fgkeras.data.label_tree.from_child_parent`. Defaults to None
            (the source's own hierarchy, if any).
        on_error: ``"skip"`` unreadable images (with a warning naming them) or
            ``"raise"`` at the first. Defaults to ``"skip"``.
        limit: keep only the first ``limit`` examples, counted after the
            ``classes`` filter. Defaults to None.
        channels: 3 (grey images are repeated) or 1. Defaults to 3.
        **source_kwargs: passed to the source, e.g. ``data_dir``,
            ``num_classes``, ``num_examples``, ``difficulty`` (synthetic).

    Returns:
        A ``tf.data.Dataset`` with a ``class_names`` attribute and a
        ``source_info`` dict (attribute and part names; for sources with a
        class hierarchy ``hierarchy_levels``, ``hierarchy_names`` and
        ``class_ancestors``: row ``c`` holds class ``c``'s node index at each
        level down to its own, see `fgkeras.data.label_tree`; for sources
        with class-level attributes ``class_attributes``: row ``c`` is class
        ``c``'s attribute vector, what zero-shot models recognise it by; for
        sources with text, ``class_descriptions``: one list of descriptions
        per class, what ``image_text`` scores images against).

    >>> ds = load("synthetic", "test", image_size=32, batch_size=4, num_examples=8)
    >>> images, labels = next(iter(ds))
    >>> images.shape, labels.dtype.name, ds.class_names[0]
    (TensorShape([4, 32, 32, 3]), 'int32', 'red-crown red-wing red-tail')

    Batches of P=4 classes × K=2 images, from four of the eight classes:

    >>> ds = load("synthetic", image_size=16, sampler="pk", classes_per_batch=4,
    ...           images_per_class=2, classes=[0, 2, 4, 6], num_examples=16, seed=0)
    >>> labels = next(iter(ds))[1].numpy().tolist()
    >>> len(labels), sorted(set(labels)), ds.class_names[1]
    (8, [0, 1, 2, 3], 'red-crown blue-wing red-tail')
    """
    if "balanced" in source_kwargs:
        raise ValueError(
            "`balanced` was replaced by `sampler`: pass sampler='balanced' instead of "
            f"balanced=True (or sampler=None). Received: balanced={source_kwargs['balanced']!r}"
        )
    if sampler not in samplers.SAMPLERS:
        raise ValueError(
            f"sampler must be one of {list(samplers.SAMPLERS)}. Received: sampler={sampler!r}"
        )
    if sampler == "pk":
        batch_size, classes_per_batch, images_per_class = samplers.pk_sizes(
            batch_size, classes_per_batch, images_per_class
        )
    elif classes_per_batch is not None or images_per_class is not None:
        raise ValueError(
            "classes_per_batch and images_per_class apply only to sampler='pk'. Received: "
            f"sampler={sampler!r}, classes_per_batch={classes_per_batch!r}, "
            f"images_per_class={images_per_class!r}"
        )
    batch_size = samplers.DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    _check_args(image_size, batch_size, resize_size, crop, mixing, features, channels, on_error)
    examples = sources_lib.get_examples(source, split, on_error=on_error, **source_kwargs)
    examples = select_classes(examples, classes)
    if label_tree is not None:
        examples = with_label_tree(examples, label_tree)
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

    if sampler == "pk":
        ds = samplers.pk_stream(examples, classes_per_batch, images_per_class, seed)
    else:
        ds = _element_stream(examples, shuffle, sampler == "balanced", seed)
    if crop == "random":
        crop_seeds = _seeds(seed, 1)
    else:
        crop_seeds = tf.data.Dataset.from_tensors(tf.zeros([2], tf.int64)).repeat()
    skips = on_error == "skip" and "image" not in examples.keys  # files may fail to decode
    # P×K batches must keep their elements together: the stream's order is
    # kept through the parallel map, or, where a skipped image could shift
    # every later batch, each element carries its position to regroup by.
    regroup = sampler == "pk" and skips
    positions = (tf.data.Dataset.counter(),) if regroup else ()
    ds = tf.data.Dataset.zip((ds, crop_seeds, *positions))
    keep = set(features) | ({"bbox"} if bbox_crop else set())

    def prepare(example, crop_seed, *position):
        example = {k: v for k, v in example.items() if k not in FEATURE_KEYS or k in keep}
        # File sources checked every header up front (check_image_files).
        example = transforms.decode(example, channels, header_checked=True)
        example = transforms.resize_example(
            example, image_size, resize_size, crop, crop_seed, bbox_crop=bbox_crop
        )
        label = tf.cast(example.pop("label"), tf.int32)
        if not features:
            return (example["image"], label, *position)
        out = {"image": example["image"]}
        for key in features:
            value = example[key]
            out[key] = (
                value
                if key == "text"
                else tf.cast(value, tf.int32 if key == "hierarchy" else tf.float32)
            )
        return (out, label, *position)

    in_order = True if sampler == "pk" and not regroup else None  # None: as options say
    ds = ds.map(
        transforms.without_autograph(prepare),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=in_order,
    )
    if skips:
        ds = ds.ignore_errors(log_warning=True)
    if regroup:
        ds = samplers.pk_batches(ds, batch_size)
    else:
        ds = ds.batch(batch_size, drop_remainder=sampler == "pk")
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


def select_classes(examples, classes):
    """Keep only ``classes`` of ``examples``, relabelled ``0 .. len(classes) - 1`` in that order.

    ``classes`` holds class names or integer indices into
    ``examples.class_names`` (None keeps everything). The class level of the
    ``hierarchy`` column (the level whose names are the class names, or
    tfds's ``"label"`` level) is relabelled too and its names subset; coarser
    levels keep their indices and names; ``info["class_ancestors"]``,
    ``info["class_attributes"]`` and ``info["class_descriptions"]`` keep the
    kept classes' rows, in the new order.
    ``info["classes"]`` records the source indices of the kept classes,
    ``info["source_class_names"]`` all names.

    Args:
        examples: the :class:`~fgkeras.data.base.Examples` of a split.
        classes: a list of names or indices, or None.

    >>> from fgkeras.data.base import Examples
    >>> ex = Examples("toy", ["ant", "bee", "cat"], table={"label": np.array([0, 1, 2, 1])})
    >>> sub = select_classes(ex, ["cat", 1])
    >>> sub.class_names, sub.table["label"].tolist(), sub.info["classes"]
    (['cat', 'bee'], [1, 0, 1], [2, 1])
    >>> select_classes(ex, ["cot"])
    Traceback (most recent call last):
    ...
    ValueError: Source 'toy' has no class 'cot'. Did you mean ['cat']? ...
    """
    if classes is None:
        return examples
    names = list(examples.class_names)
    chosen = _class_indices(examples.name, names, classes)
    remap = np.full(len(names), -1, np.int32)
    remap[chosen] = np.arange(len(chosen), dtype=np.int32)
    info = dict(examples.info, classes=chosen, source_class_names=names)
    level = _class_level(info, names)
    if level is not None:
        levels = info["hierarchy_levels"]
        hierarchy_names = dict(info.get("hierarchy_names") or {})
        if levels[level] in hierarchy_names:
            hierarchy_names[levels[level]] = [names[c] for c in chosen]
            info["hierarchy_names"] = hierarchy_names
    if info.get("class_ancestors") is not None:
        rows = np.asarray(info["class_ancestors"], np.int64)[chosen]
        rows[:, -1] = np.arange(len(chosen))
        info["class_ancestors"] = rows.tolist()
    for key in ("class_attributes", "class_descriptions"):  # one row per class
        if info.get(key) is not None:
            info[key] = [info[key][c] for c in chosen]
    new_names = [names[c] for c in chosen]
    counts = examples.class_counts
    counts = None if counts is None else np.asarray(counts)[chosen]
    if examples.table is not None:
        labels = np.asarray(examples.table["label"])
        keep = remap[labels] >= 0
        table = {k: v[keep] for k, v in examples.table.items()}
        table["label"] = remap[labels[keep]].astype(labels.dtype)
        if level is not None and "hierarchy" in table:
            table["hierarchy"] = table["hierarchy"].copy()
            table["hierarchy"][:, level] = table["label"]
        return dataclasses.replace(
            examples, class_names=new_names, table=table, class_counts=None, info=info
        )
    lookup = tf.constant(remap)

    def relabel(ex):
        label = tf.gather(lookup, tf.cast(ex["label"], tf.int32))
        ex = dict(ex, label=tf.cast(label, ex["label"].dtype))
        if level is not None and "hierarchy" in ex:
            h = ex["hierarchy"]
            ex["hierarchy"] = tf.tensor_scatter_nd_update(
                h, [[level]], tf.cast(label, h.dtype)[None]
            )
        return ex

    stream = examples.stream.filter(
        lambda ex: tf.gather(lookup, tf.cast(ex["label"], tf.int32)) >= 0
    ).map(relabel)
    num = None if counts is None else int(np.sum(counts))
    return dataclasses.replace(
        examples, class_names=new_names, stream=stream, num_examples=num,
        class_counts=counts, info=info,
    )  # fmt: skip


def with_label_tree(examples, label_tree):
    """``examples`` with the class hierarchy ``label_tree`` (replacing the source's own).

    Sets ``info["hierarchy_levels"]``, ``["hierarchy_names"]`` (every level,
    classes included) and ``["class_ancestors"]``, and the ``hierarchy``
    column (or stream feature) to each example's node per level.

    Args:
        examples: the :class:`~fgkeras.data.base.Examples` of a split.
        label_tree: a ``{child: parent}`` dict, a JSON file of one, a
            `~fgkeras.data.label_tree.LabelTree` or its config.

    >>> from fgkeras.data.base import Examples
    >>> ex = Examples("toy", ["ant", "bee", "cat"], table={"label": np.array([0, 2])})
    >>> out = with_label_tree(ex, {"ant": "insect", "bee": "insect", "cat": "mammal"})
    >>> out.table["hierarchy"].tolist(), out.info["hierarchy_names"]["level0"]
    ([[0, 0], [1, 2]], ['insect', 'mammal'])
    """
    tree = resolve_label_tree(label_tree, examples.class_names)
    info = dict(examples.info, **tree.source_info())
    if examples.table is not None:
        labels = np.asarray(examples.table["label"])
        table = dict(examples.table, hierarchy=tree.ancestors[labels])
        return dataclasses.replace(examples, table=table, info=info)
    ancestors = tf.constant(tree.ancestors)
    stream = examples.stream.map(
        lambda ex: dict(ex, hierarchy=tf.gather(ancestors, tf.cast(ex["label"], tf.int32)))
    )
    return dataclasses.replace(examples, stream=stream, info=info)


def _class_indices(source_name, names, classes):
    """Indices into ``names`` of ``classes`` (names or indices), with errors for users."""
    if isinstance(classes, str | numbers.Integral) or not len(classes):
        raise ValueError(
            "classes must be a non-empty list of class names or indices, e.g. "
            f"classes=[{names[0]!r}, {names[-1]!r}] or classes=[0, 3]. "
            f"Received: classes={classes!r}"
        )
    chosen = []
    for item in classes:
        if isinstance(item, numbers.Integral) and not isinstance(item, bool):
            if not 0 <= int(item) < len(names):
                raise ValueError(
                    f"Class index {int(item)} is out of range: source {source_name!r} has "
                    f"{len(names)} classes (0 to {len(names) - 1}). Received: classes={classes!r}"
                )
            chosen.append(int(item))
        elif isinstance(item, str) and item in names:
            chosen.append(names.index(item))
        else:
            close = difflib.get_close_matches(str(item), [str(n) for n in names], n=3)
            hint = f" Did you mean {close}?" if close else ""
            shown = names if len(names) <= 12 else names[:12] + ["..."]
            raise ValueError(
                f"Source {source_name!r} has no class {item!r}.{hint} Its classes: {shown} "
                "(pass names, or integer indices into them)."
            )
    duplicates = sorted({names[c] for c in chosen if chosen.count(c) > 1})
    if duplicates:
        raise ValueError(
            f"classes names a class twice: {duplicates}. Received: classes={classes!r}"
        )
    return chosen


def _class_level(info, names):
    """Index of the hierarchy level that is the class itself, or None."""
    levels = list(info.get("hierarchy_levels") or ())
    hierarchy_names = info.get("hierarchy_names") or {}
    for j, level in enumerate(levels):
        if level == "label" or list(hierarchy_names.get(level, ())) == names:
            return j
    return None


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
    """Unbatched, undecoded elements of ``sampler=None`` or ``"balanced"``."""
    if balanced:
        ds = samplers.balanced_stream(examples, seed)
        if examples.table is not None:
            return ds
    elif examples.table is not None:
        table = examples.table
        ds = tf.data.Dataset.from_tensor_slices(table)
        if shuffle:
            ds = ds.shuffle(len(table["label"]), seed=seed, reshuffle_each_iteration=True)
        return ds
    else:
        ds = examples.stream
    if shuffle:
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    return ds
