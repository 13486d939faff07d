"""Cost of the samplers: ``load(sampler="pk")`` and ``"balanced"`` vs the plain shuffled pipeline.

Measures images/s of full training epochs of ``fgkeras.data.load``, all in
the same run on the same machine, taking turns one epoch at a time (as
``benchmarks/data_pipeline.py`` does), for:

- ``shuffled``: ``sampler=None`` (every example once, shuffled), the reference;
- ``balanced``: ``sampler="balanced"`` (class-uniform draws);
- ``P×K``: ``sampler="pk"`` (P classes × K images per batch, batch = P × K).

on the ``synthetic`` source with few and with many classes (one per-class
dataset each: the P×K stream interleaves as many datasets as there are
classes), on a folder of generated 448-px JPEGs (files may fail to decode,
so P×K batches are regrouped by position after the parallel map), and on
Fashion-MNIST when its IDX files are installed
(``apt-get install dataset-fashion-mnist``). Ratios are against ``shuffled``.
``setup s`` is the time of the ``load`` call (building the per-class datasets).

    python benchmarks/pk_sampler.py [--passes 3] [--fashion-limit 0]

Writes benchmarks/results/pk_sampler.md and .json (``--results-dir`` elsewhere).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tempfile  # noqa: E402

from data_pipeline import dataset_pass, make_jpegs, rates  # noqa: E402
from results_io import (  # noqa: E402
    add_results_dir_argument,
    markdown_table,
    settings_of,
    write_results,
)


def datasets(args):
    """(label, source, load kwargs) of each dataset to measure."""
    out = [
        (
            f"synthetic, {args.classes} classes, {args.synthetic_examples} images {args.size} px",
            "synthetic",
            {"num_classes": args.classes, "num_examples": args.synthetic_examples},
        ),
        (
            f"synthetic, {args.many_classes} classes, {args.synthetic_examples} images "
            f"{args.size} px",
            "synthetic",
            {"num_classes": args.many_classes, "num_examples": args.synthetic_examples},
        ),
    ]
    if args.jpegs:
        folder = tempfile.mkdtemp(prefix="fgkeras-pk-bench-")
        make_jpegs(folder, args.jpegs, classes=args.jpeg_classes)
        out.append(
            (
                f"JPEG folder, {args.jpeg_classes} classes, {args.jpegs} images 448 → 224 px",
                folder,
                {"image_size": 224},
            )
        )
    from fgkeras.data.sources import fashion_mnist_dir

    if args.fashion_limit != 0 and fashion_mnist_dir() is not None:
        part = "60000" if args.fashion_limit is None else f"first {args.fashion_limit}"
        out.append(
            (
                f"Fashion-MNIST train, {part} images, 28 px",
                "fashion_mnist",
                {"limit": args.fashion_limit, "image_size": 28},
            )
        )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3, help="epochs per pipeline, in turns")
    parser.add_argument("--size", type=int, default=64, help="synthetic image size")
    parser.add_argument("--synthetic-examples", type=int, default=4000)
    parser.add_argument("--classes", type=int, default=8, help="classes of the first synthetic")
    parser.add_argument("--many-classes", type=int, default=200, help="of the second synthetic")
    parser.add_argument(
        "--fashion-limit", type=int, default=None, help="Fashion-MNIST images (0: skip; all)"
    )
    parser.add_argument("--jpegs", type=int, default=256, help="JPEG folder images (0: skip)")
    parser.add_argument("--jpeg-classes", type=int, default=16)
    parser.add_argument("--classes-per-batch", type=int, default=8, help="P")
    parser.add_argument("--images-per-class", type=int, default=4, help="K")
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)

    import fgkeras.data as fd

    p, k = args.classes_per_batch, args.images_per_class
    rows, data = [], []
    for label, source, kwargs in datasets(args):
        kwargs = {"image_size": args.size, "seed": 0, **kwargs}
        fd.load(source, batch_size=p * k, **kwargs)  # generate/read the source once
        variants = {
            "shuffled": {"batch_size": p * k},
            "balanced": {"batch_size": p * k, "sampler": "balanced"},
            f"P×K ({p}×{k})": {"sampler": "pk", "classes_per_batch": p, "images_per_class": k},
        }
        passes, setup = {}, {}
        for name, extra in variants.items():
            start = time.perf_counter()
            passes[name] = dataset_pass(fd.load(source, **kwargs, **extra))
            setup[name] = time.perf_counter() - start
        result = rates(passes, args.passes)
        base = result["shuffled"]
        for name, value in result.items():
            rows.append([label, name, f"{value:.0f}", f"{value / base:.2f}", f"{setup[name]:.2f}"])
            print(f"{label:50s} {name:12s} {value:9.0f} img/s {value / base:5.2f} "
                  f"setup {setup[name]:.2f} s", flush=True)  # fmt: skip
        data.append(
            {
                "dataset": label,
                "images_per_second": result,
                "ratio_to_shuffled": {n: v / base for n, v in result.items()},
                "setup_seconds": setup,
            }
        )
    table = markdown_table(["data", "sampler", "images/s", "ratio", "setup s"], rows)
    settings = (
        f"batch {p * k} (P×K = {p}×{k}), full training epochs, {args.passes} per pipeline "
        "after one warm-up, taken in turns; ratio: images/s over the shuffled pipeline's."
    )
    write_results(
        "pk_sampler",
        f"{table}\n\n{settings}",
        {"settings": settings_of(args), "results": data},
        results_dir=args.results_dir,
        title="Sampler cost: P×K and balanced vs shuffled",
    )


if __name__ == "__main__":
    main()
