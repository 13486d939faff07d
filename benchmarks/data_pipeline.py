"""Input pipeline throughput: ``fgkeras.data.load`` vs the decode+resize limit vs a PIL loop.

Writes a folder of JPEGs (448 px on the shorter side, like fine-grained
training images), then measures images/s, all in the same run on the same
machine:

- ``limit``: the least work any pipeline must do, as a bare tf.data map:
  read file, decode JPEG, resize to the output size, batch (AUTOTUNE).
- ``fgkeras.data.load``: the real pipeline (file checks, shuffle,
  decode, crop-and-resize, batch, prefetch), eval and train settings.
- ``PIL loop``: plain Python, one image after another.

Ratios are against ``limit``. Writes benchmarks/results/data_pipeline.md and
.json (``--results-dir`` elsewhere). Usage::

    python benchmarks/data_pipeline.py [--images 256] [--size 224] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from PIL import Image
from results_io import add_results_dir_argument, markdown_table, settings_of, write_results


def make_jpegs(folder, count, classes=4, seed=0):
    """Write ``count`` smooth random 448x(448..597) JPEGs into ``classes`` subfolders."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        w = int(rng.integers(448, 598))
        small = rng.integers(0, 255, (14, w // 32, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((w, 448), Image.BILINEAR)
        noise = rng.integers(-12, 12, (448, w, 3))
        arr = np.clip(np.asarray(img, np.int16) + noise, 0, 255).astype(np.uint8)
        sub = os.path.join(folder, f"class{i % classes}")
        os.makedirs(sub, exist_ok=True)
        Image.fromarray(arr).save(os.path.join(sub, f"{i:05d}.jpg"), quality=90)


def rates(pipelines, epochs):
    """Images/s of each pipeline (name -> callable doing one pass, returning the count).

    One warm-up pass each, then the pipelines take turns, one pass at a time,
    so that load from other processes on the machine hits them all alike.
    """
    for one_pass in pipelines.values():
        one_pass()
    seconds = dict.fromkeys(pipelines, 0.0)
    images = dict.fromkeys(pipelines, 0)
    for _ in range(epochs):
        for name, one_pass in pipelines.items():
            start = time.perf_counter()
            images[name] += one_pass()
            seconds[name] += time.perf_counter() - start
    return {name: images[name] / seconds[name] for name in pipelines}


def dataset_pass(ds):
    return lambda: sum(int(x.shape[0]) for x, _ in ds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", type=int, default=224, help="output image size")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)

    import tensorflow as tf

    import fgkeras.data as fd
    from fgkeras.data.files import check_image_files

    folder = tempfile.mkdtemp(prefix="fgkeras-bench-")
    make_jpegs(folder, args.images)
    paths = sorted(
        os.path.join(r, f) for r, _, files in os.walk(folder) for f in files if f.endswith(".jpg")
    )
    size = args.size

    def limit_map(path):
        img = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        return tf.image.resize(img, [size, size]), 0

    limit = (
        tf.data.Dataset.from_tensor_slices(paths)
        .map(limit_map, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(args.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    start = time.perf_counter()
    check_image_files(paths)
    check_s = time.perf_counter() - start
    evaluation = fd.load(folder, "train", image_size=size, batch_size=args.batch_size,
                         shuffle=False)  # fmt: skip
    train = fd.load(folder, "train", image_size=size, resize_size=int(size * 512 / 448),
                    batch_size=args.batch_size, seed=0)  # fmt: skip

    def pil_pass():
        for path in paths:
            with Image.open(path) as im:
                np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), np.float32)
        return len(paths)

    results = rates(
        {
            "limit (read+decode+resize, tf.data)": dataset_pass(limit),
            "fgkeras.data.load (eval: resize)": dataset_pass(evaluation),
            "fgkeras.data.load (train: shuffle, random crop)": dataset_pass(train),
            "plain PIL loop": pil_pass,
        },
        args.epochs,
    )

    base = results["limit (read+decode+resize, tf.data)"]
    settings = (
        f"{args.images} JPEGs, 448 px → {size} px, batch {args.batch_size}, "
        f"{args.epochs} passes each, taken in turns; ratio: images/s over the limit's. "
        f"The up-front file check ran at {args.images / check_s:.0f} files/s."
    )
    print(settings)
    print(f"{'pipeline':50s} {'images/s':>9s} {'ratio':>6s}")
    for name, value in results.items():
        print(f"{name:50s} {value:9.1f} {value / base:6.2f}")
    table = markdown_table(
        ["pipeline", "images/s", "ratio"],
        [[name, f"{value:.1f}", f"{value / base:.2f}"] for name, value in results.items()],
    )
    write_results(
        "data_pipeline",
        f"{table}\n\n{settings}",
        {
            "settings": settings_of(args),
            "images_per_second": results,
            "ratio_to_limit": {name: value / base for name, value in results.items()},
            "file_check_files_per_second": args.images / check_s,
        },
        results_dir=args.results_dir,
        title="Input pipeline throughput",
    )


if __name__ == "__main__":
    main()
