"""What a source hands to the pipeline: the :class:`Examples` of one split.

A source is a function ``source(split, **kwargs) -> Examples``. It describes
the examples either as a *table* of NumPy columns (paths or decoded images,
labels, boxes, ...) or as a *stream* (a ``tf.data.Dataset`` of dicts). The
pipeline (:mod:`fgkeras.data.pipeline`) turns either into batches.

Element keys, all optional except the image and ``label``:

- ``image`` (decoded ``uint8 [H, W, C]``), ``path`` (file to read, with
  ``decoder``: 0 = TensorFlow, 1 = PIL) or ``encoded`` (image file bytes);
- ``label`` int32;
- ``bbox`` ``float32 [4]`` object box, normalized ``[ymin, xmin, ymax, xmax]``;
- ``part_bbox`` ``float32 [P, 4]`` part boxes; ``parts`` ``float32 [P, 3]``
  part keypoints ``(y, x, visible)``, normalized;
- ``attributes`` ``float32 [A]``; ``text`` string; ``hierarchy`` ``int32 [L]``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from fgkeras.checks import check_int
from fgkeras.data.files import check_image_files

IMAGE_KEYS = ("image", "path", "encoded")
FEATURE_KEYS = ("bbox", "part_bbox", "parts", "attributes", "text", "hierarchy")
BOX_KEYS = ("bbox", "part_bbox")


@dataclasses.dataclass
class Examples:
    """The examples of one split of a source.

    Attributes:
        name: source name, for messages.
        class_names: list of class names; label ``i`` is ``class_names[i]``.
        table: dict of equal-length NumPy columns, or None.
        stream: an unbatched ``tf.data.Dataset`` of dicts, or None.
        num_examples: number of examples when known.
        class_counts: examples per class when known (for balanced sampling).
        info: extra metadata (attribute names, hierarchy names, ...).

    >>> ex = Examples("toy", ["a", "b"], table={"image": np.zeros((2, 4, 4, 3), "uint8"),
    ...                                        "label": np.array([0, 1], "int32")})
    >>> ex.num_examples, ex.features
    (2, ())
    """

    name: str
    class_names: list
    table: dict | None = None
    stream: object | None = None
    num_examples: int | None = None
    class_counts: np.ndarray | None = None
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if (self.table is None) == (self.stream is None):
            raise ValueError("Examples needs exactly one of `table` or `stream`.")
        if self.table is not None:
            lengths = {k: len(v) for k, v in self.table.items()}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"Table columns differ in length: {lengths}")
            self.num_examples = len(self.table["label"])
            if self.class_counts is None:
                self.class_counts = np.bincount(
                    self.table["label"], minlength=len(self.class_names)
                )

    @property
    def keys(self):
        """Element keys (table columns or stream element keys)."""
        if self.table is not None:
            return tuple(self.table)
        return tuple(self.stream.element_spec)

    @property
    def features(self):
        """The optional features (see :data:`FEATURE_KEYS`) this source provides."""
        return tuple(k for k in FEATURE_KEYS if k in self.keys)

    def take(self, limit):
        """Keep only the first ``limit`` examples (None keeps all)."""
        if limit is None:
            return self
        check_int("limit", limit)
        if self.table is not None:
            table = {k: v[:limit] for k, v in self.table.items()}
            return dataclasses.replace(self, table=table, class_counts=None)
        n = None if self.num_examples is None else min(limit, self.num_examples)
        return dataclasses.replace(self, stream=self.stream.take(limit), num_examples=n)


def check_split(name, split, available):
    """Raise a ValueError naming the available splits when ``split`` is not one.

    >>> check_split("toy", "test", ["train", "test"])
    >>> check_split("toy", "dev", ["train", "test"])
    Traceback (most recent call last):
    ...
    ValueError: Source 'toy' has no split 'dev'. Available splits: ['train', 'test'].
    """
    if split not in available:
        raise ValueError(
            f"Source {name!r} has no split {split!r}. Available splits: {list(available)}."
        )


def split_files(n, split, validation_split, seed=1337, name="folder"):
    """Indices of ``split`` when carving a validation subset out of ``n`` items.

    ``"train"`` takes everything when ``validation_split`` is None; otherwise
    the items are shuffled with ``seed`` and the last ``validation_split``
    fraction is ``"validation"`` (as ``keras.utils.image_dataset_from_directory``).

    >>> split_files(10, "validation", 0.2).tolist()
    [0, 1]
    >>> len(split_files(10, "train", 0.2)), len(split_files(10, "train", None))
    (8, 10)
    """
    if validation_split is None:
        if split == "train":
            return np.arange(n)
        raise ValueError(
            f"Source {name!r} has no {split!r} subfolder or column. Pass "
            f"validation_split=0.2 (for example) to carve a 'validation' split out of "
            f"the training files, or use split='train'."
        )
    if not 0.0 < float(validation_split) < 1.0:
        raise ValueError(f"validation_split must be in (0, 1). Received: {validation_split!r}")
    order = np.random.default_rng(seed).permutation(n)
    num_val = int(round(n * float(validation_split)))
    if split == "train":
        return np.sort(order[: n - num_val])
    if split in ("validation", "val"):
        return np.sort(order[n - num_val :])
    raise ValueError(
        f"With validation_split, source {name!r} has splits 'train' and 'validation'. "
        f"Received: split={split!r}"
    )


def file_examples(name, class_names, paths, labels, on_error, extra=None, info=None, check=None):
    """Examples of image files: checks them (or uses ``check``) and drops unreadable ones.

    ``extra`` holds more per-file columns (boxes, ...); ``info`` extra metadata.
    """
    if check is None:
        check = check_image_files(paths, on_error, name=f"images of source {name!r}")
    ok = check.ok
    if not ok.any():
        raise ValueError(f"Source {name!r} has no readable images ({len(paths)} files checked).")
    table = {
        "path": np.array(paths, object)[ok],
        "decoder": check.decoder[ok],
        "label": np.asarray(labels, np.int32)[ok],
    }
    for key, value in (extra or {}).items():
        table[key] = np.asarray(value)[ok]
    return Examples(name, list(class_names), table=table, info=dict(info or {}, skipped=check.bad))
