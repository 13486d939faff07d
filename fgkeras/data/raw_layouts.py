"""Raw dataset layouts that tfds lacks or strips: ``CUB_200_2011/`` and FGVC-Aircraft.

CUB-200-2011 (Wah et al. 2011): boxes, 15 part keypoints, 312 binary
attributes per image and the official train/test split, read from the text
files of the original archive, and, when Reed et al.'s separate ``text_c10``
caption folder is there, ten sentences describing each image. FGVC-Aircraft
(Maji et al. 2013): variant, family and manufacturer labels and boxes from its
``data/`` folder.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from fgkeras.checks import check_int
from fgkeras.data.base import check_split, file_examples
from fgkeras.data.files import FileCheck, check_image_files

CAPTION_MODES = ("first", "all", None)


def _rows(path, min_cols=2):
    with open(path) as f:
        rows = [line.split() for line in f if line.strip()]
    bad = [i for i, r in enumerate(rows) if len(r) < min_cols]
    if bad:
        raise ValueError(f"{path}: line {bad[0] + 1} has fewer than {min_cols} fields.")
    return rows


def _cub_root(path):
    path = os.fspath(path)
    for root in (path, os.path.join(path, "CUB_200_2011")):
        if os.path.isfile(os.path.join(root, "images.txt")) and os.path.isfile(
            os.path.join(root, "classes.txt")
        ):
            return root
    return None


def is_cub(path):
    """True if ``path`` is (or contains) a ``CUB_200_2011`` folder.

    >>> is_cub("/no/such/dir")
    False
    """
    return _cub_root(path) is not None


def cub_source(
    split="train",
    *,
    data_dir=None,
    on_error="skip",
    captions="first",
    class_captions=10,
    text_dir=None,
):
    """CUB-200-2011 from its original folder, with its official split.

    Features: ``bbox``; ``parts`` ``[15, 3]`` keypoints ``(y, x, visible)``;
    ``attributes`` ``[312]`` (the per-image ``is_present`` labels, when
    ``attributes/image_attribute_labels.txt`` is there). Attribute and part
    names are in ``ds.source_info``, and with
    ``attributes/class_attribute_labels_continuous.txt`` the per-class
    attribute table ``class_attributes`` (``[200, 312]``, the share of a
    class's images annotated with each attribute, 0-1; zero-shot models
    recognise classes by it).

    ``text`` (a string per example), when a ``text_c10`` folder of Reed et
    al.'s captions (CVPR 2016; released apart from CUB, one
    ``<class folder>/<image name>.txt`` of 10 sentences per image) is found:
    ``text_dir``, else ``text_c10`` next to the ``CUB_200_2011`` folder,
    inside it, or ``cvpr2016_cub/text_c10`` next to it (the release's own
    folder). ``source_info["class_descriptions"]`` then holds captions of
    each class's *training* images, whatever the split (a test image never
    describes its own class). An image without a caption file is an
    unreadable example: skipped with a warning naming the first such file
    and the count (``on_error="skip"``) or a ``FileNotFoundError``
    (``"raise"``).

    Args:
        split: ``"train"`` or ``"test"``. Defaults to ``"train"``.
        data_dir: the ``CUB_200_2011`` folder or its parent. Defaults to None.
        on_error: ``"skip"`` or ``"raise"`` for unreadable images and
            missing caption files. Defaults to ``"skip"``.
        captions: the ``text`` of an image: ``"first"``, its first caption
            (one example per image, as without captions); ``"all"``, one
            example per caption (each image 10 times, an epoch 10 times
            longer, every caption trained on: best for ``image_text``,
            whose contrastive loss wants one sentence per pair; not for
            ``sampler="pk"``, whose K images could be one image); None
            reads no captions. Defaults to ``"first"``.
        class_captions: captions per class in ``class_descriptions``: the
            first caption of each training image in id order (then the
            second, ...); None takes every caption (slow: ``image_text``
            encodes every class description at each training step).
            Defaults to 10.
        text_dir: the ``text_c10`` folder, when it is elsewhere. Defaults
            to None (searched as above).

    >>> cub_source(data_dir="/no/such/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No CUB_200_2011 folder (images.txt, classes.txt) at '/no/such/dir'
    """
    root = _cub_root(data_dir or "")
    if root is None:
        raise FileNotFoundError(
            f"No CUB_200_2011 folder (images.txt, classes.txt) at {os.fspath(data_dir or '')!r}"
        )
    check_split("cub200_raw", split, ["train", "test"])
    check_int("class_captions", class_captions, allow_none=True)
    text_dir = _cub_text_dir(root, captions, text_dir)
    images = {r[0]: r[1] for r in _rows(os.path.join(root, "images.txt"))}
    ids = sorted(images, key=int)
    classes = sorted(_rows(os.path.join(root, "classes.txt")), key=lambda r: int(r[0]))
    class_names = [r[1] for r in classes]
    labels = {r[0]: int(r[1]) - 1 for r in _rows(os.path.join(root, "image_class_labels.txt"))}
    is_train = {r[0]: r[1] == "1" for r in _rows(os.path.join(root, "train_test_split.txt"))}
    ids = [i for i in ids if is_train[i] == (split == "train")]
    paths = [os.path.join(root, "images", images[i]) for i in ids]
    check = check_image_files(paths, on_error, name="CUB images")
    hw = {i: (h, w) for i, h, w in zip(ids, check.height, check.width)}
    hw_arr = np.array([hw[i] for i in ids], np.float32).clip(min=1)
    extra, info = {}, {}
    box_file = os.path.join(root, "bounding_boxes.txt")
    if os.path.isfile(box_file):
        boxes = {r[0]: [float(v) for v in r[1:5]] for r in _rows(box_file, 5)}
        b = np.array([boxes[i] for i in ids], np.float32).reshape(-1, 4)  # x, y, w, h
        h, w = hw_arr[:, 0], hw_arr[:, 1]
        extra["bbox"] = np.stack(
            [b[:, 1] / h, b[:, 0] / w, (b[:, 1] + b[:, 3]) / h, (b[:, 0] + b[:, 2]) / w], 1
        ).clip(0, 1)
    parts_file = os.path.join(root, "parts", "part_locs.txt")
    if os.path.isfile(parts_file):
        part_names = [" ".join(r[1:]) for r in _rows(os.path.join(root, "parts", "parts.txt"))]
        index = {i: k for k, i in enumerate(ids)}
        parts = np.zeros((len(ids), len(part_names), 3), np.float32)
        for r in _rows(parts_file, 5):
            k = index.get(r[0])
            if k is not None:
                x, y, vis = float(r[2]), float(r[3]), float(r[4])
                parts[k, int(r[1]) - 1] = (y / hw_arr[k, 0], x / hw_arr[k, 1], vis)
        extra["parts"] = parts
        info["part_names"] = part_names
    attr_file = os.path.join(root, "attributes", "image_attribute_labels.txt")
    if os.path.isfile(attr_file):
        names_file = next(
            (p for p in (os.path.join(root, "attributes", "attributes.txt"),
                         os.path.join(os.path.dirname(root), "attributes.txt"),
                         os.path.join(root, "attributes.txt")) if os.path.isfile(p)),
            None,
        )  # fmt: skip
        rows = _rows(attr_file, 3)
        num_attr = max(int(r[1]) for r in rows)
        index = {i: k for k, i in enumerate(ids)}
        attrs = np.zeros((len(ids), num_attr), np.float32)
        for r in rows:  # some lines of the original file have extra fields; use the first 3
            k = index.get(r[0])
            if k is not None:
                attrs[k, int(r[1]) - 1] = float(r[2])
        extra["attributes"] = attrs
        if names_file:
            info["attribute_names"] = [r[1] for r in _rows(names_file)]
    class_file = os.path.join(root, "attributes", "class_attribute_labels_continuous.txt")
    if os.path.isfile(class_file):
        info["class_attributes"] = _class_attribute_table(class_file, len(class_names))
    for key in list(extra):
        extra[key] = extra[key].astype(np.float32)
    labels_list = [labels[i] for i in ids]
    if text_dir is not None:
        names = [images[i] for i in ids]
        rows, text, check = _cub_captions(text_dir, names, paths, check, captions, on_error)
        paths, labels_list = [paths[k] for k in rows], [labels_list[k] for k in rows]
        extra = {key: value[rows] for key, value in extra.items()}
        extra["text"] = np.array(text, object)
        train_ids = [i for i in sorted(images, key=int) if is_train.get(i)]
        info["class_descriptions"] = _class_captions(
            text_dir, [(images[i], labels[i]) for i in train_ids], class_names, class_captions
        )
    return file_examples(
        "cub200_raw", class_names, paths, labels_list, on_error, extra, info, check
    )


def _cub_text_dir(root, captions, text_dir=None):
    """The ``text_c10`` caption folder of the CUB folder ``root``, or None (none, or unwanted).

    >>> _cub_text_dir("/no/such/CUB_200_2011", "first") is None
    True
    """
    if captions not in CAPTION_MODES:
        raise ValueError(
            f"captions must be one of {list(CAPTION_MODES)}. Received: captions={captions!r}"
        )
    if captions is None:
        return None
    if text_dir is not None:
        if not os.path.isdir(text_dir):
            raise FileNotFoundError(f"No text_c10 caption folder at text_dir={text_dir!r}")
        return os.fspath(text_dir)
    parent = os.path.dirname(os.path.abspath(root))
    places = (
        os.path.join(parent, "text_c10"),
        os.path.join(root, "text_c10"),
        os.path.join(parent, "cvpr2016_cub", "text_c10"),
    )
    return next((p for p in places if os.path.isdir(p)), None)


def _caption_file(text_dir, image_name):
    """``text_c10/<class folder>/<image stem>.txt`` of ``images/<class folder>/<image>``.

    >>> _caption_file("text_c10", "001.Albatross/Albatross_0001_1.jpg")
    'text_c10/001.Albatross/Albatross_0001_1.txt'
    """
    return os.path.join(text_dir, os.path.splitext(image_name)[0] + ".txt")


def _read_captions(text_dir, image_name):
    """The non-empty lines of an image's caption file (``[]`` if it is missing or empty)."""
    try:
        with open(_caption_file(text_dir, image_name), encoding="utf-8", errors="replace") as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def _cub_captions(text_dir, image_names, paths, check, captions, on_error):
    """Rows (indices into the images), their texts and the check with caption-less images bad.

    ``captions="first"`` keeps one row per image, ``"all"`` one per caption.
    """
    found = [_read_captions(text_dir, name) for name in image_names]
    missing = [k for k, texts in enumerate(found) if not texts and check.ok[k]]
    if missing:
        _missing_captions(text_dir, image_names, missing, int(check.ok.sum()), on_error)
    if captions == "first":
        rows, text = list(range(len(found))), [texts[0] if texts else "" for texts in found]
    else:
        rows = [k for k, texts in enumerate(found) for _ in texts or [""]]
        text = [t for texts in found for t in texts or [""]]
    rows = np.array(rows, np.int64)
    ok = check.ok & np.array([bool(texts) for texts in found])
    bad = check.bad + [(paths[k], "no caption file") for k in missing]
    check = FileCheck(ok[rows], check.decoder[rows], check.height[rows], check.width[rows], bad)
    return rows, text, check


def _missing_captions(text_dir, image_names, missing, num_ok, on_error):
    """Warn about (``on_error="skip"``) or raise for images without a caption file."""
    first = _caption_file(text_dir, image_names[missing[0]])
    if len(missing) == num_ok:
        raise FileNotFoundError(
            f"None of the {num_ok} CUB images has a caption file in {text_dir!r} (the first "
            f"expected: {first!r}). text_c10 must hold <class folder>/<image stem>.txt for the "
            "images of images.txt; pass text_dir= the right folder, or captions=None to read "
            "no captions."
        )
    what = (
        f"{len(missing)} of {num_ok} CUB images have no caption file (or an empty one) in "
        f"{text_dir!r}; the first: {first!r}"
    )
    if on_error == "raise":
        raise FileNotFoundError(
            f"{what}. Add the missing files, pass on_error='skip' to skip those images, or "
            "captions=None to read no captions."
        )
    warnings.warn(
        f"Skipped {what}. Pass on_error='raise' to stop instead, or captions=None to read "
        "no captions.",
        stacklevel=4,
    )


def _class_captions(text_dir, named_labels, class_names, per_class):
    """Up to ``per_class`` captions of each class (all with None), first captions first.

    ``named_labels`` is ``(image name, label)`` of the training images; a class
    without any caption is described by its name.
    """
    images = [[] for _ in class_names]
    for name, label in named_labels:
        if per_class is None or len(images[label]) < per_class:
            texts = _read_captions(text_dir, name)
            if texts:
                images[label].append(texts)
    groups = []
    for found, class_name in zip(images, class_names):
        depth = max(map(len, found), default=0)
        group = [texts[j] for j in range(depth) for texts in found if j < len(texts)]
        groups.append(group[:per_class] or [str(class_name)])
    return groups


def _class_attribute_table(path, num_classes):
    """CUB's class x attribute table: one line per class of percentages, scaled to 0-1."""
    rows = [[float(v) / 100.0 for v in r] for r in _rows(path, 1)]
    widths = {len(r) for r in rows}
    if len(rows) != num_classes or len(widths) != 1:
        raise ValueError(
            f"{path!r} must hold one line of attribute percentages per class "
            f"({num_classes} lines of equal length). Received {len(rows)} lines of "
            f"{sorted(widths)} values."
        )
    return rows


def _aircraft_root(path):
    path = os.fspath(path)
    for root in (
        path,
        os.path.join(path, "data"),
        os.path.join(path, "fgvc-aircraft-2013b", "data"),
    ):
        if os.path.isfile(os.path.join(root, "variants.txt")) and os.path.isdir(
            os.path.join(root, "images")
        ):
            return root
    return None


def is_aircraft(path):
    """True if ``path`` is (or contains) an FGVC-Aircraft ``data/`` folder.

    >>> is_aircraft("/no/such/dir")
    False
    """
    return _aircraft_root(path) is not None


AIRCRAFT_LEVELS = ("manufacturer", "family", "variant")
_NAME_FILES = {
    "manufacturer": "manufacturers.txt",
    "family": "families.txt",
    "variant": "variants.txt",
}


def aircraft_source(split="train", *, data_dir=None, level="variant", on_error="skip"):
    """FGVC-Aircraft from its ``data/`` folder.

    Args:
        split: ``"train"``, ``"val"`` (or ``"validation"``), ``"trainval"``, ``"test"``.
        data_dir: the ``data/`` folder (or its parent).
        level: label granularity: ``"variant"`` (100), ``"family"`` (70) or
            ``"manufacturer"`` (30). Defaults to ``"variant"``.
        on_error: ``"skip"`` or ``"raise"`` for unreadable images.

    Features: ``bbox``; ``hierarchy`` = [manufacturer, family, variant]
    indices. The images keep their 20-pixel copyright banner at the bottom;
    ``bbox_crop=True`` crops to the aircraft.

    >>> aircraft_source(data_dir="/no/such/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No FGVC-Aircraft data folder (variants.txt, images/) at '/no/such/dir'
    """
    root = _aircraft_root(data_dir or "")
    if root is None:
        raise FileNotFoundError(
            f"No FGVC-Aircraft data folder (variants.txt, images/) at {os.fspath(data_dir or '')!r}"
        )
    if level not in AIRCRAFT_LEVELS:
        raise ValueError(f"level must be one of {AIRCRAFT_LEVELS}. Received: level={level!r}")
    split = "val" if split == "validation" else split
    check_split("fgvc_aircraft", split, ["train", "val", "trainval", "test"])
    names, per_level = {}, {}
    for lv in AIRCRAFT_LEVELS:
        with open(os.path.join(root, _NAME_FILES[lv])) as f:
            names[lv] = [line.strip() for line in f if line.strip()]
        with open(os.path.join(root, f"images_{lv}_{split}.txt")) as f:
            rows = [line.strip().split(" ", 1) for line in f if line.strip()]
        per_level[lv] = {r[0]: names[lv].index(r[1]) for r in rows}
    ids = list(per_level["variant"])
    paths = [os.path.join(root, "images", f"{i}.jpg") for i in ids]
    check = check_image_files(paths, on_error, name="FGVC-Aircraft images")
    hw = np.stack([check.height, check.width], 1).astype(np.float32).clip(min=1)
    extra = {
        "hierarchy": np.array([[per_level[lv][i] for lv in AIRCRAFT_LEVELS] for i in ids], np.int32)
    }
    box_file = os.path.join(root, "images_box.txt")
    if os.path.isfile(box_file):
        boxes = {r[0]: [float(v) for v in r[1:5]] for r in _rows(box_file, 5)}
        b = np.array([boxes[i] for i in ids], np.float32).reshape(
            -1, 4
        )  # xmin ymin xmax ymax, 1-based
        extra["bbox"] = np.stack(
            [
                (b[:, 1] - 1) / hw[:, 0],
                (b[:, 0] - 1) / hw[:, 1],
                b[:, 3] / hw[:, 0],
                b[:, 2] / hw[:, 1],
            ],
            1,
        ).clip(0, 1)
    labels = [per_level[level][i] for i in ids]
    info = {"hierarchy_levels": list(AIRCRAFT_LEVELS), "hierarchy_names": names}
    ancestors = _aircraft_ancestors(root, names, level)
    if ancestors is not None:
        info["class_ancestors"] = ancestors
    return file_examples("fgvc_aircraft", names[level], paths, labels, on_error, extra, info, check)


def _aircraft_ancestors(root, names, level):
    """Each class's [manufacturer, family, variant] prefix down to ``level``, from every split file.

    None when some class appears in no split file (its ancestors are unknown).
    """
    depth = AIRCRAFT_LEVELS.index(level) + 1
    per_image = {}
    for split in ("train", "val", "test"):
        for lv in AIRCRAFT_LEVELS[:depth]:
            path = os.path.join(root, f"images_{lv}_{split}.txt")
            if not os.path.isfile(path):
                continue
            with open(path) as f:
                for line in f:
                    if line.strip():
                        image, name = line.strip().split(" ", 1)
                        per_image.setdefault(image, {})[lv] = names[lv].index(name)
    rows = {}
    for nodes in per_image.values():
        if len(nodes) == depth:
            rows.setdefault(nodes[level], [nodes[lv] for lv in AIRCRAFT_LEVELS[:depth]])
    if len(rows) != len(names[level]):
        return None
    return [rows[i] for i in range(len(names[level]))]
