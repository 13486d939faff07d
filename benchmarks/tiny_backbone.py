"""The `tiny` backbone and a cheaper candidate first stage: FLOPs and accuracy.

"current" is the design `tiny` keeps (two 3×3 convolutions in every stage);
"candidate" has one convolution in the first, full-resolution stage. Each is
trained with the same budget on real Fashion-MNIST (the Debian package
`dataset-fashion-mnist`) as backbone + global average pooling + linear
classifier, for several seeds, and evaluated on the official test split.
Train-step time is reported as a ratio to "current", measured in the same run.

    .venv/bin/python benchmarks/tiny_backbone.py                        # ~10 min on 2 cores
    .venv/bin/python benchmarks/tiny_backbone.py --limit 2000 --epochs 1 --seeds 0 \
        --results-dir /tmp/tiny-smoke                                   # smoke run

Writes benchmarks/results/tiny_backbone.md and .json.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from model_costs import count_flops, step_seconds  # noqa: E402
from results_io import (  # noqa: E402
    add_results_dir_argument,
    markdown_table,
    settings_of,
    write_results,
)

import fgkeras  # noqa: E402
from fgkeras.layers import ImagePreprocessing  # noqa: E402
from fgkeras.models.backbones import TINY_CONVS, tiny_features  # noqa: E402

VARIANTS = {"current": TINY_CONVS, "candidate": (1, 2, 2, 2, 2)}


def build(convs, size, num_classes=10):
    """Backbone + global average pooling + linear classifier on ``size`` px RGB."""
    inputs = keras.Input((size, size, 3), name="image")
    x = ImagePreprocessing("unit", name="preprocessing")(inputs)
    x = tiny_features(x, (size, size, 3), convs)
    x = keras.layers.GlobalAveragePooling2D(name="pooler")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="predictions")(x))


def accuracy(convs, seed, args) -> tuple[float, float]:
    """Test accuracy and training minutes of one seed."""
    keras.utils.set_random_seed(seed)
    common = dict(image_size=28, batch_size=args.batch_size, limit=args.limit, seed=seed)
    train = fgkeras.data.load("fashion_mnist", "train", **common)
    test = fgkeras.data.load("fashion_mnist", "test", image_size=28, batch_size=256)
    model = build(convs, 28)
    steps = args.epochs * int(train.cardinality())
    model.compile(
        keras.optimizers.AdamW(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.time()
    model.fit(train, epochs=args.epochs, verbose=0)
    minutes = (time.time() - start) / 60
    return float(model.evaluate(test, verbose=0, return_dict=True)["accuracy"]), minutes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20000, help="training images")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=5, help="timed train steps at 64 px")
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)

    costs = {}
    for name, convs in VARIANTS.items():
        costs[name] = {f"gflops_{size}": count_flops(build(convs, size)) / 1e9 for size in (28, 64)}
        costs[name]["params"] = build(convs, 64).count_params()
    times = {name: [] for name in VARIANTS}
    for _ in range(args.steps):  # interleaved, so machine load hits both alike
        for name, convs in VARIANTS.items():
            times[name].append(step_seconds(build(convs, 64), 32, 1))
    rows, data = [], {}
    for name, convs in VARIANTS.items():
        runs = [accuracy(convs, seed, args) for seed in args.seeds]
        accuracies = [a for a, _ in runs]
        data[name] = {
            **costs[name],
            "convs_per_stage": list(convs),
            "accuracies": accuracies,
            "train_minutes": [m for _, m in runs],
            "step_ratio": float(np.median(times[name]) / np.median(times["current"])),
        }
        rows.append(
            [
                name,
                "-".join(map(str, convs)),
                f"{costs[name]['params']:,}",
                f"{costs[name]['gflops_28']:.3f}",
                f"{costs[name]['gflops_64']:.3f}",
                f"{data[name]['step_ratio']:.2f}",
                f"{np.mean(accuracies):.4f} ± {np.std(accuracies):.4f}",
                f"{np.mean(data[name]['train_minutes']):.1f}",
            ]
        )
    table = markdown_table(
        [
            "tiny",
            "convs per stage",
            "params (64 px)",
            "GFLOPs 28 px",
            "GFLOPs 64 px",
            "step × (64 px)",
            f"test accuracy ({len(args.seeds)} seeds)",
            "train min",
        ],
        rows,
    )
    note = (
        f"Fashion-MNIST, {args.limit} training images, {args.epochs} epochs, AdamW + cosine, "
        "28 px, global average pooling; accuracy as mean ± standard deviation over seeds."
    )
    write_results(
        "tiny_backbone",
        table,
        {"settings": settings_of(args), **data},
        results_dir=args.results_dir,
        note=note,
    )


if __name__ == "__main__":
    main()
