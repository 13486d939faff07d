"""TensorFlow Datasets sources under friendly names.

``tfds.load`` downloads and prepares the data on first use (online), or reads
``data_dir`` / ``$TFDS_DATA_DIR``. Features are renamed to the pipeline's keys:
object boxes to ``bbox``; Oxford-IIIT Pet's head box is a part, so it is
``part_bbox`` ``[1, 4]``; species / supercategory become a two-level
``hierarchy``. Oxford-IIIT Pet's ``source_info`` also holds ``class_ancestors``
(breed → species, from the dataset's naming: cat breeds are capitalised); the
iNaturalist sets have no class → supercategory table without a pass over
the data.
"""

from __future__ import annotations

from fgkeras.data.base import Examples

TFDS_NAMES = {
    "cub200": "caltech_birds2011",
    "stanford_dogs": "stanford_dogs",
    "stanford_cars": "cars196",
    "oxford_flowers102": "oxford_flowers102",
    "oxford_iiit_pet": "oxford_iiit_pet",
    "inaturalist2017": "i_naturalist2017",
    "inaturalist2021": "i_naturalist2021",
    "fashion_mnist": "fashion_mnist",
}


def _convert(tfds_name):
    """A function mapping a tfds example dict to the pipeline's element dict."""
    import tensorflow as tf

    def convert(ex):
        out = {"image": ex["image"], "label": tf.cast(ex["label"], tf.int32)}
        if "bbox" in ex:
            out["bbox"] = ex["bbox"]
        if "objects" in ex:  # stanford_dogs: first box, or the whole image if none
            boxes = ex["objects"]["bbox"]
            out["bbox"] = tf.cond(
                tf.shape(boxes)[0] > 0, lambda: boxes[0], lambda: tf.constant([0.0, 0.0, 1.0, 1.0])
            )
        if "head_bbox" in ex:
            out["part_bbox"] = ex["head_bbox"][None]
        coarse = ex.get("species", ex.get("supercategory"))
        if coarse is not None:
            out["hierarchy"] = tf.stack([tf.cast(coarse, tf.int32), out["label"]])
        return out

    return convert


def tfds_source(
    name, split="train", *, data_dir=None, download=True, shuffle_files=False, on_error="skip"
):
    """Examples of a tfds dataset (by friendly or tfds name) as a stream.

    Args:
        name: a key or value of :data:`TFDS_NAMES`.
        split: any tfds split string (``"train"``, ``"test[:10%]"``, ...).
        data_dir: tfds data folder. Defaults to tfds's own.
        download: let tfds download and prepare the data. Defaults to True.
        shuffle_files: shuffle the file order (tfds). Defaults to False.
        on_error: unused (tfds data is decoded by tfds); kept for a uniform API.

    >>> tfds_source("no_such_set")
    Traceback (most recent call last):
    ...
    ValueError: Unknown tfds source 'no_such_set'. Known: ['caltech_birds2011', ...]
    """
    tfds_name = TFDS_NAMES.get(name, name)
    if tfds_name not in TFDS_NAMES.values():
        raise ValueError(f"Unknown tfds source {name!r}. Known: {sorted(TFDS_NAMES.values())}")
    import tensorflow_datasets as tfds

    try:
        ds, info = tfds.load(
            tfds_name, split=split, data_dir=data_dir, download=download,
            shuffle_files=shuffle_files, with_info=True,
        )  # fmt: skip
    except (FileNotFoundError, AssertionError, ValueError) as e:
        raise ValueError(
            f"tfds could not load {tfds_name!r} split {split!r}: {e}. Online, tfds downloads "
            "it on first use; offline, pass data_dir=<folder with prepared tfds data>."
        ) from e
    label = info.features["label"]
    class_names = list(label.names)
    extra = {}
    for coarse in ("species", "supercategory"):
        if coarse in info.features:
            extra["hierarchy_levels"] = [coarse, "label"]
            extra["hierarchy_names"] = {coarse: list(info.features[coarse].names)}
    species = [s.lower() for s in extra.get("hierarchy_names", {}).get("species", [])]
    if tfds_name == "oxford_iiit_pet" and species == ["cat", "dog"]:
        # The dataset's convention: cat breeds are capitalised, dog breeds are not.
        extra["class_ancestors"] = [
            [0 if name[:1].isupper() else 1, i] for i, name in enumerate(class_names)
        ]
    split_info = info.splits.get(split) if hasattr(info.splits, "get") else None
    num = split_info.num_examples if split_info is not None else None
    stream = ds.map(_convert(tfds_name))
    return Examples(name, class_names, stream=stream, num_examples=num or None, info=extra)
