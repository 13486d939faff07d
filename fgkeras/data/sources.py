"""Sources: where examples come from. ``get_examples(source, split)`` resolves any.

The simple ones live here (synthetic, folder of class subfolders, CSV,
Fashion-MNIST IDX files); raw dataset layouts, tfds and TFRecord packs have
their own modules. The registry is the explicit :data:`SOURCES` dict.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import os

import numpy as np

from fgkeras.data import raw_layouts, synthetic, synthetic_cache, tfds_sources, tfrecords
from fgkeras.data.base import Examples, check_split, file_examples, split_files
from fgkeras.data.files import IMAGE_EXTENSIONS
from fgkeras.data.label_tree import LabelTree

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
FASHION_MNIST_TOPS = (0, 2, 4, 6)  # T-shirt/top, Pullover, Coat, Shirt
# The two-level Fashion-MNIST tree: each class's group (levels "group", "label").
FASHION_MNIST_GROUPS = {
    "T-shirt/top": "upper body", "Pullover": "upper body", "Coat": "upper body",
    "Shirt": "upper body", "Dress": "full body", "Trouser": "lower body",
    "Sandal": "footwear", "Sneaker": "footwear", "Ankle boot": "footwear", "Bag": "bags",
}  # fmt: skip
FASHION_MNIST_GROUP_NAMES = ["upper body", "full body", "lower body", "footwear", "bags"]
FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
_SPLIT_DIRS = {"train": ("train",), "validation": ("validation", "val"), "test": ("test",)}


def synthetic_source(
    split="train",
    *,
    preset=None,
    num_classes=None,
    num_examples=None,
    native_size=64,
    difficulty=None,
    data_seed=0,
    on_error="skip",
):
    """The built-in procedural dataset (see :mod:`fgkeras.data.synthetic`).

    ``preset="benchmark"`` is the setting the project's benchmarks share
    (`fgkeras.data.synthetic.BENCHMARK_PRESET`); ``num_classes`` and
    ``difficulty`` default to the preset's, else to 8 and 0.5.

    >>> synthetic_source("test", num_examples=4).features
    ('bbox', 'part_bbox', 'attributes', 'text', 'hierarchy')
    >>> len(synthetic_source("test", preset="benchmark", num_examples=27).class_names)
    27
    """
    settings = synthetic.resolve_preset(preset, num_classes=num_classes, difficulty=difficulty)
    num_classes, difficulty = settings["num_classes"], settings["difficulty"]
    data = _generate(split, num_classes, num_examples, native_size, difficulty, data_seed)
    info = data.info
    table = {
        "image": data.images, "label": data.labels, "bbox": data.bbox,
        "part_bbox": data.part_bbox, "attributes": data.attributes.astype(np.float32),
        "text": data.text.astype(object), "hierarchy": data.hierarchy,
    }  # fmt: skip
    return Examples("synthetic", list(info.class_names), table=table, info={
        "attribute_names": info.attribute_names, "part_names": list(synthetic.PART_NAMES),
        "class_attributes": info.attributes.astype(float).tolist(),
        "class_descriptions": synthetic.class_descriptions(num_classes),
        "hierarchy_levels": list(info.hierarchy_levels),
        "hierarchy_names": info.hierarchy_names,
        "class_ancestors": info.hierarchy.tolist(),
    })  # fmt: skip


_SYNTHETIC_CACHE = {}


def _generate(split, num_classes, num_examples, native_size, difficulty, data_seed):
    key = (split, num_classes, num_examples, native_size, float(difficulty), data_seed)
    if key not in _SYNTHETIC_CACHE:
        if len(_SYNTHETIC_CACHE) >= 6:
            _SYNTHETIC_CACHE.pop(next(iter(_SYNTHETIC_CACHE)))
        _SYNTHETIC_CACHE[key] = synthetic_cache.generate(
            num_examples, num_classes=num_classes, image_size=native_size,
            difficulty=difficulty, seed=data_seed, split=split,
        )  # fmt: skip
    return _SYNTHETIC_CACHE[key]


def _require_dir(path, what):
    if path is None:
        raise ValueError(f"Source {what!r} needs data_dir=<folder>.")
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No such directory for source {what!r}: {path!r}")
    return path


def _list_images(folder):
    return sorted(
        os.path.join(folder, f)
        for f in os.listdir(folder)
        if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(folder, f))
    )


def folder_source(split="train", *, data_dir=None, validation_split=None, on_error="skip"):
    """A folder of class subfolders (``data_dir/<class>/<image>``).

    Class names are the sorted subfolder names. If ``data_dir`` holds
    ``train/``, ``validation/`` (or ``val/``) and ``test/`` folders, each split
    reads its own; otherwise ``"train"`` is every file, and ``validation_split``
    carves out a ``"validation"`` split. Files with other extensions are ignored.

    >>> folder_source(data_dir="/no/such/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No such directory for source 'folder': '/no/such/dir'
    """
    root = _require_dir(data_dir, "folder")
    subdirs = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    split_dirs = {
        s: next(os.path.join(root, n) for n in names if n in subdirs)
        for s, names in _SPLIT_DIRS.items()
        if any(n in subdirs for n in names)
    }
    if split_dirs:
        split_key = "validation" if split == "val" else split
        check_split("folder", split_key, list(split_dirs))
        class_names = sorted({
            d for sd in split_dirs.values() for d in os.listdir(sd)
            if os.path.isdir(os.path.join(sd, d))
        })  # fmt: skip
        base, indices = split_dirs[split_key], None
    else:
        class_names, base = subdirs, root
    if not class_names:
        raise ValueError(
            f"Folder {root!r} has no class subfolders. Expected {root}/<class name>/<image files>."
        )
    paths, labels = [], []
    for k, name in enumerate(class_names):
        folder = os.path.join(base, name)
        if not os.path.isdir(folder):
            continue
        files = _list_images(folder)
        if not files:
            raise ValueError(
                f"Class folder {folder!r} has no image files ({', '.join(IMAGE_EXTENSIONS)}). "
                "Remove it or add images: an empty class would shift no labels but could "
                "never be predicted correctly."
            )
        paths += files
        labels += [k] * len(files)
    if not split_dirs:
        indices = split_files(len(paths), split, validation_split, name="folder")
        paths, labels = [paths[i] for i in indices], [labels[i] for i in indices]
    return file_examples("folder", class_names, paths, labels, on_error)


def csv_source(split="train", *, path=None, data_dir=None, validation_split=None, on_error="skip"):
    """A CSV file of ``path,label`` rows (optionally a ``split`` and a ``text`` column).

    Without a header the columns are ``path,label[,split]``. A header row
    naming ``path`` and ``label`` (any order) may add ``split`` and ``text``
    (a description of the image, the ``text`` feature; `image_text` trains
    on it), found by name; other named columns are ignored. Relative paths
    are relative to the CSV's folder. Labels that are all integers are used
    as class indices (class names ``"0"``, ``"1"``, ...); otherwise class
    names are the sorted distinct labels. With a ``text`` column,
    ``source_info["class_descriptions"]`` holds up to 10 distinct texts of
    each class (of this split), in file order.

    >>> csv_source(path="/no/such.csv")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No such CSV file: '/no/such.csv'
    """
    path = os.fspath(path or data_dir or "")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such CSV file: {path!r}")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    columns = {"path": 0, "label": 1, "split": 2}
    header = [c.strip().lower() for c in rows[0]] if rows else []
    named = "path" in header and "label" in header
    if named:
        columns = {name: header.index(name) for name in ("path", "label", "split", "text")
                   if name in header}  # fmt: skip
        rows = rows[1:]
        bad = [i for i, r in enumerate(rows) if len(r) != len(header)]
    else:
        bad = [i for i, r in enumerate(rows) if len(r) not in (2, 3)]
    if bad or not rows:
        expected = f"{len(header)} columns (its header)" if named else "'path,label[,split]'"
        raise ValueError(
            f"CSV {path!r} must have rows of {expected}"
            + (f"; row {bad[0] + 1} has {len(rows[bad[0]])} columns." if bad else "; it is empty.")
        )
    labels_raw = [r[columns["label"]].strip() for r in rows]
    if all(lab.lstrip("-").isdigit() for lab in labels_raw):
        ints = [int(lab) for lab in labels_raw]
        if min(ints) < 0:
            raise ValueError(f"CSV {path!r} has a negative label: {min(ints)}.")
        class_names = [str(i) for i in range(max(ints) + 1)]
        labels = ints
    else:
        class_names = sorted(set(labels_raw))
        labels = [class_names.index(lab) for lab in labels_raw]
    root = os.path.dirname(os.path.abspath(path))
    paths = [os.path.join(root, r[columns["path"]].strip()) for r in rows]
    has_split = "split" in columns and all(len(r) > columns["split"] for r in rows)
    if has_split:
        splits = [r[columns["split"]].strip() for r in rows]
        check_split("csv", split, sorted(set(splits)))
        keep = [i for i, s in enumerate(splits) if s == split]
    else:
        keep = split_files(len(paths), split, validation_split, name="csv").tolist()
    extra, info = {}, {}
    if "text" in columns:
        texts = [rows[i][columns["text"]].strip() for i in keep]
        extra["text"] = np.array(texts, object)
        info["class_descriptions"] = _class_texts(texts, [labels[i] for i in keep], class_names)
    return file_examples(
        "csv", class_names, [paths[i] for i in keep], [labels[i] for i in keep], on_error,
        extra, info,
    )  # fmt: skip


def _class_texts(texts, labels, class_names, per_class=10) -> list:
    """Up to ``per_class`` distinct texts of each class, in order (a class without any
    gets its name, so every class has a description)."""
    found = [[] for _ in class_names]
    for text, label in zip(texts, labels):
        if text and text not in found[label] and len(found[label]) < per_class:
            found[label].append(text)
    return [group or [str(name)] for group, name in zip(found, class_names)]


def _read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[:4], "big")
    if magic >> 8 != 0x08 or (magic & 0xFF) not in (1, 3):
        raise ValueError(f"{path!r} is not an IDX file of unsigned bytes (magic {magic:#x}).")
    ndim = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist_dir(data_dir=None):
    """The folder holding Fashion-MNIST IDX files, or None if there is none.

    Looks in ``data_dir``, ``$FGKERAS_DATA_DIR`` (and its ``fashion-mnist``
    subfolder), then ``/usr/share/datasets/fashion-mnist``.

    >>> fashion_mnist_dir("/no/such/dir") is None or True
    True
    """
    candidates = [data_dir] if data_dir else []
    env = os.environ.get("FGKERAS_DATA_DIR")
    if env:
        candidates += [env, os.path.join(env, "fashion-mnist")]
    candidates += list(FASHION_MNIST_DIRS)
    for folder in candidates:
        if any(
            os.path.isfile(os.path.join(folder, f"train-images-idx3-ubyte{ext}"))
            for ext in (".gz", "")
        ):
            return folder
    if data_dir:
        raise FileNotFoundError(f"No Fashion-MNIST IDX files in {data_dir!r}.")
    return None


def fashion_mnist_source(split="train", *, data_dir=None, tops_only=False, on_error="skip"):
    """Fashion-MNIST (28x28 grey) from local IDX files, else from tfds.

    ``tops_only=True`` keeps T-shirt/top, Pullover, Coat and Shirt, relabelled
    0-3 in that order (the ``fashion_mnist_tops`` source).

    >>> fashion_mnist_source("validation")
    Traceback (most recent call last):
    ...
    ValueError: Source 'fashion_mnist' has no split 'validation'. Available splits: [...].
    """
    name = "fashion_mnist_tops" if tops_only else "fashion_mnist"
    check_split("fashion_mnist", split, ["train", "test"])
    folder = fashion_mnist_dir(data_dir)
    if folder is None:
        examples = tfds_sources.tfds_source("fashion_mnist", split, on_error=on_error)
        images = labels = None
    else:
        prefix = "train" if split == "train" else "t10k"

        def find(kind):
            for ext in (".gz", ""):
                p = os.path.join(
                    folder, f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte{ext}"
                )
                if os.path.isfile(p):
                    return p
            raise FileNotFoundError(f"Missing Fashion-MNIST {prefix} {kind} in {folder!r}.")

        images, labels = _read_idx(find("images")), _read_idx(find("labels")).astype(np.int32)
        if len(images) != len(labels):
            raise ValueError(
                f"Fashion-MNIST in {folder!r}: {len(images)} images, {len(labels)} labels."
            )
    class_names = list(FASHION_MNIST_CLASSES)
    if tops_only:
        remap = np.full(10, -1, np.int32)
        remap[list(FASHION_MNIST_TOPS)] = np.arange(4)
        class_names = [FASHION_MNIST_CLASSES[i] for i in FASHION_MNIST_TOPS]
    tree = fashion_mnist_tree(class_names)
    if images is None:
        import tensorflow as tf

        stream, ancestors = examples.stream, tf.constant(tree.ancestors)
        if tops_only:
            table = tf.constant(remap)
            stream = stream.filter(lambda ex: tf.gather(table, ex["label"]) >= 0).map(
                lambda ex: dict(ex, label=tf.gather(table, ex["label"]))
            )
        stream = stream.map(lambda ex: dict(ex, hierarchy=tf.gather(ancestors, ex["label"])))
        return Examples(name, class_names, stream=stream, info=tree.source_info())
    if tops_only:
        keep = remap[labels] >= 0
        images, labels = images[keep], remap[labels[keep]]
    table = {"image": images[..., None], "label": labels, "hierarchy": tree.ancestors[labels]}
    return Examples(name, class_names, table=table, info=tree.source_info())


def fashion_mnist_tree(class_names=FASHION_MNIST_CLASSES):
    """The Fashion-MNIST label tree: group (upper body, full body, ...) → class.

    Levels ``["group", "label"]``; the groups are those of
    :data:`FASHION_MNIST_GROUPS`, all five kept whatever ``class_names`` holds.

    >>> tree = fashion_mnist_tree()
    >>> tree.names[0][tree.ancestors[FASHION_MNIST_CLASSES.index("Sneaker"), 0]]
    'footwear'
    """
    groups = [FASHION_MNIST_GROUP_NAMES.index(FASHION_MNIST_GROUPS[n]) for n in class_names]
    table = np.stack([groups, np.arange(len(class_names))], axis=1)
    return LabelTree(["group", "label"], [FASHION_MNIST_GROUP_NAMES, list(class_names)], table)


SOURCES = {
    "synthetic": synthetic_source,
    "folder": folder_source,
    "csv": csv_source,
    "fashion_mnist": fashion_mnist_source,
    "fashion_mnist_tops": lambda split="train", **kw: fashion_mnist_source(
        split, tops_only=True, **kw
    ),
    "cub200_raw": raw_layouts.cub_source,
    "fgvc_aircraft": raw_layouts.aircraft_source,
    "tfrecord": tfrecords.tfrecord_source,
    **{
        name: (
            lambda tfds_name: (
                lambda split="train", **kw: tfds_sources.tfds_source(tfds_name, split, **kw)
            )
        )(name)
        for name in tfds_sources.TFDS_NAMES
        if name != "fashion_mnist"
    },
}


def list_sources():
    """Names accepted by :func:`fgkeras.data.load` (besides paths).

    >>> "synthetic" in list_sources() and "cub200" in list_sources()
    True
    """
    return sorted(SOURCES)


def detect(path):
    """Name of the source that reads ``path`` (a folder or a CSV file).

    >>> detect("/no/such/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No such file or directory: '/no/such/dir'
    """
    path = os.fspath(path)
    if os.path.isfile(path) and path.lower().endswith(".csv"):
        return "csv"
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No such file or directory: {path!r}")
    if os.path.isfile(os.path.join(path, tfrecords.MANIFEST)):
        return "tfrecord"
    if raw_layouts.is_cub(path):
        return "cub200_raw"
    if raw_layouts.is_aircraft(path):
        return "fgvc_aircraft"
    return "folder"


def get_examples(source, split="train", **kwargs):
    """Resolve ``source`` (a name or a path) and return the :class:`Examples` of ``split``.

    >>> get_examples("synthetic", "test", num_examples=4).num_examples
    4
    """
    if not isinstance(source, str | os.PathLike):
        raise ValueError(f"source must be a name or a path. Received: source={source!r}")
    if source in SOURCES:
        return SOURCES[source](split, **kwargs)
    looks_like_path = os.sep in os.fspath(source) or os.path.exists(source)
    if not looks_like_path:
        close = difflib.get_close_matches(str(source), list(SOURCES), n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(
            f"Unknown source {source!r}.{hint} Known sources: {list_sources()}; "
            "or pass the path of a folder or CSV file."
        )
    name = detect(source)
    key = "path" if name == "csv" else "data_dir"
    return SOURCES[name](split, **{key: os.fspath(source)}, **kwargs)
