"""Sharded TFRecord packs: ``pack`` writes them, the ``tfrecord`` source reads them.

A pack is a folder with ``<split>-<i>-of-<n>.tfrecord`` shards of
``tf.train.Example`` records and a ``fgkeras_pack.json`` manifest (class names,
feature shapes, per-split shard lists and class counts). Image files are
stored as their original bytes (JPEG stays JPEG); decoded images (synthetic,
IDX, tfds) are stored as lossless PNG.
"""

from __future__ import annotations

import json
import os

import numpy as np

from fgkeras.checks import check_int
from fgkeras.data.base import Examples, check_split

MANIFEST = "fgkeras_pack.json"
_FLOAT_FEATURES = ("bbox", "part_bbox", "parts", "attributes")


def _examples_iter(examples):
    """Yield numpy dicts with an ``encoded`` image from any Examples."""
    import tensorflow as tf

    from fgkeras.data.files import decode_with_pil

    if examples.table is not None:
        table = examples.table
        for i in range(examples.num_examples):
            ex = {k: v[i] for k, v in table.items()}
            if "path" in ex:
                path = ex.pop("path")
                if ex.pop("decoder", 0) == 0:
                    with open(path, "rb") as f:
                        ex["encoded"] = f.read()
                else:
                    ex["encoded"] = tf.io.encode_png(decode_with_pil(path)).numpy()
            else:
                image = ex.pop("image")
                image = image[..., None] if image.ndim == 2 else image
                ex["encoded"] = tf.io.encode_png(image).numpy()
            yield ex
    else:
        for ex in examples.stream.as_numpy_iterator():
            ex["encoded"] = tf.io.encode_png(ex.pop("image")).numpy()
            yield ex


def _serialize(ex, features):
    import tensorflow as tf

    def floats(v):
        return tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(v).tolist()))

    def ints(v):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=np.ravel(v).tolist()))

    def raw(v):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))

    feats = {"image": raw(ex["encoded"]), "label": ints(ex["label"])}
    for key in features:
        value = ex[key]
        if key == "text":
            feats[key] = raw(value.encode() if isinstance(value, str) else bytes(value))
        elif key == "hierarchy":
            feats[key] = ints(value)
        else:
            feats[key] = floats(value)
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def pack(source, to, *, splits=("train",), shard_size=1000, on_error="skip", **source_kwargs):
    """Write ``source``'s splits to ``to`` as sharded TFRecords plus a manifest.

    Args:
        source: any source name or path accepted by :func:`fgkeras.data.load`.
        to: output folder (created; existing shards of the same split are replaced).
        splits: splits to write. Defaults to ``("train",)``.
        shard_size: examples per shard. Defaults to 1000.
        on_error: ``"skip"`` or ``"raise"`` for unreadable images. Defaults to ``"skip"``.
        **source_kwargs: passed to the source (``data_dir``, ``num_examples``, ...).

    Returns:
        The manifest dict.

    >>> import tempfile
    >>> m = pack("synthetic", tempfile.mkdtemp(), splits=["test"], num_examples=6, shard_size=4)
    >>> m["splits"]["test"]["num_examples"], len(m["splits"]["test"]["shards"])
    (6, 2)
    """
    import tensorflow as tf

    from fgkeras.data.sources import get_examples

    if isinstance(splits, str):
        splits = [s for s in splits.split(",") if s]
    check_int("shard_size", shard_size)
    to = os.fspath(to)
    os.makedirs(to, exist_ok=True)
    manifest_path = os.path.join(to, MANIFEST)
    manifest = {"format": 1, "source": str(source), "splits": {}}
    if os.path.isfile(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    for split in splits:
        examples = get_examples(source, split, on_error=on_error, **source_kwargs)
        features = list(examples.features)
        shapes, shards, counts = {}, [], np.zeros(len(examples.class_names), np.int64)
        writer, n = None, 0
        for ex in _examples_iter(examples):
            if n % shard_size == 0:
                if writer:
                    writer.close()
                shards.append(f"{split}-{len(shards):05d}.tfrecord.tmp")
                writer = tf.io.TFRecordWriter(os.path.join(to, shards[-1]))
            for key in features:
                if key != "text":
                    shapes.setdefault(key, list(np.shape(ex[key])))
            writer.write(_serialize(ex, features))
            counts[int(ex["label"])] += 1
            n += 1
        if writer:
            writer.close()
        final = []
        for i, tmp in enumerate(shards):
            name = f"{split}-{i:05d}-of-{len(shards):05d}.tfrecord"
            os.replace(os.path.join(to, tmp), os.path.join(to, name))
            final.append(name)
        for old in manifest["splits"].get(split, {}).get("shards", []):
            if old not in final and os.path.isfile(os.path.join(to, old)):
                os.remove(os.path.join(to, old))
        manifest["class_names"] = list(examples.class_names)
        manifest["features"] = {k: shapes.get(k, []) for k in features}
        manifest["info"] = json.loads(json.dumps(examples.info, default=str))
        manifest["splits"][split] = {
            "num_examples": n, "shards": final, "class_counts": counts.tolist(),
        }  # fmt: skip
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def read_manifest(data_dir):
    """Read the pack manifest of ``data_dir``; FileNotFoundError if there is none.

    >>> read_manifest("/no/such/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No TFRecord pack at '/no/such/dir' (no fgkeras_pack.json). ...
    """
    path = os.path.join(os.fspath(data_dir or ""), MANIFEST)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No TFRecord pack at {os.fspath(data_dir or '')!r} (no {MANIFEST}). "
            "Write one with `fgkeras data pack SOURCE --to DIR`."
        )
    with open(path) as f:
        return json.load(f)


def tfrecord_source(
    split="train",
    *,
    data_dir=None,
    shuffle_files=False,
    file_seed=None,
    cycle_length=4,
    on_error="skip",
):
    """Read a pack written by :func:`pack`, interleaving its shards.

    Args:
        split: a split in the pack.
        data_dir: the pack folder.
        shuffle_files: shuffle the shard order each epoch. Defaults to False
            (shards in order, interleaved deterministically).
        file_seed: seed of the shard shuffle. Defaults to None.
        cycle_length: shards read at once. Defaults to 4.
        on_error: unused (decoding errors are handled by the pipeline).

    >>> tfrecord_source(data_dir="/no/such/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No TFRecord pack at '/no/such/dir' (no fgkeras_pack.json). ...
    """
    import tensorflow as tf

    manifest = read_manifest(data_dir)
    check_split("tfrecord", split, list(manifest["splits"]))
    entry = manifest["splits"][split]
    files = [os.path.join(os.fspath(data_dir), s) for s in entry["shards"]]
    spec = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
    }
    shapes = manifest["features"]
    for key, shape in shapes.items():
        size = int(np.prod(shape)) if shape else 1
        if key == "text":
            spec[key] = tf.io.FixedLenFeature([], tf.string)
        elif key == "hierarchy":
            spec[key] = tf.io.FixedLenFeature([size], tf.int64)
        else:
            spec[key] = tf.io.FixedLenFeature([size], tf.float32)

    def parse(record):
        ex = tf.io.parse_single_example(record, spec)
        out = {"encoded": ex["image"], "label": tf.cast(ex["label"], tf.int32)}
        for key, shape in shapes.items():
            value = ex[key]
            if key != "text":
                value = tf.reshape(value, shape)
            out[key] = tf.cast(value, tf.int32) if key == "hierarchy" else value
        return out

    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
        ds = ds.shuffle(len(files), seed=file_seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=max(1, min(cycle_length, len(files))),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    return Examples(
        "tfrecord",
        manifest["class_names"],
        stream=ds,
        num_examples=entry["num_examples"],
        class_counts=np.array(entry["class_counts"]),
        info=dict(manifest.get("info", {}), pack=os.fspath(data_dir)),
    )
