"""How learnable is the synthetic dataset? Test accuracy per epoch of a small CNN.

Trains a 4-layer CNN (3x3 convolutions with 32-64-128-128 channels, each with
BatchNorm and ReLU, 2x2 max pooling after the first three) from scratch on
``fgkeras.data.synthetic`` with two heads, at equal budget (same data, epochs,
batch size, optimizer and seed):

- ``gap``: global average pooling, then a dense layer;
- ``bilinear``: a 1x1 convolution to 32 channels, the outer product averaged
  over locations (``fgkeras.layers.BilinearPooling``), signed square root and
  L2 normalization (``SignedSqrtL2Normalization``), then a dense layer.

It reports the test accuracy after each epoch and the training time (the
evaluations after each epoch are not counted). The defaults are the setting of
the "Learnability, measured" table in docs/data.md (about 9 minutes on 2 CPU
cores)::

    python benchmarks/synthetic_learnability.py                  # 8 classes, difficulty 0.5
    python benchmarks/synthetic_learnability.py --difficulties 0.5 1.0 --num-classes 27
    python benchmarks/synthetic_learnability.py --epochs 1 --train 256 --test 128 \\
        --results-dir /tmp/learnability-smoke                     # smoke run, seconds

Writes benchmarks/results/synthetic_learnability.md and .json (``--results-dir``
elsewhere, so that a smoke run does not replace the recorded results).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from keras import layers  # noqa: E402
from results_io import (  # noqa: E402
    add_results_dir_argument,
    markdown_table,
    settings_of,
    write_results,
)

from fgkeras.data import synthetic  # noqa: E402
from fgkeras.layers import BilinearPooling, SignedSqrtL2Normalization  # noqa: E402

HEADS = {
    "gap": "global average pooling",
    "bilinear": "bilinear (1×1 conv to 32, outer product, signed sqrt, L2)",
}
WIDTHS = (32, 64, 128, 128)


def build_model(head: str, num_classes: int, image_size: int) -> keras.Model:
    """The 4-layer CNN with a ``"gap"`` or ``"bilinear"`` head, returning logits."""
    inputs = keras.Input((image_size, image_size, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    for index, width in enumerate(WIDTHS):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if index < len(WIDTHS) - 1:
            x = layers.MaxPooling2D(2)(x)
    if head == "gap":
        x = layers.GlobalAveragePooling2D()(x)
    elif head == "bilinear":
        x = layers.Conv2D(32, 1)(x)
        x = BilinearPooling()(x)
        x = SignedSqrtL2Normalization()(x)
    else:
        raise ValueError(f"head must be one of {sorted(HEADS)}. Received: head={head!r}")
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name=f"cnn4_{head}")


def run_one(head, difficulty, args):
    """Train one head at one difficulty; return its row (accuracy per epoch, seconds)."""
    train, test = (
        synthetic.generate(
            count,
            num_classes=args.num_classes,
            image_size=args.image_size,
            difficulty=difficulty,
            seed=args.seed,
            split=split,
        )
        for count, split in ((args.train, "train"), (args.test, "test"))
    )
    keras.utils.set_random_seed(args.seed)
    model = build_model(head, args.num_classes, args.image_size)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x_train, x_test = train.images.astype("float32"), test.images.astype("float32")
    accuracies, seconds = [], 0.0
    for epoch in range(args.epochs):
        start = time.perf_counter()
        model.fit(x_train, train.labels, batch_size=args.batch_size, epochs=1, verbose=0)
        seconds += time.perf_counter() - start
        accuracy = model.evaluate(x_test, test.labels, batch_size=256, verbose=0)[1]
        accuracies.append(float(accuracy))
        print(
            f"{head:<9} difficulty {difficulty}  epoch {epoch + 1}: test acc {accuracy:.3f} "
            f"({seconds:.0f} s)",
            flush=True,
        )
    keras.backend.clear_session()
    return {
        "head": head,
        "difficulty": difficulty,
        "test_accuracy_per_epoch": accuracies,
        "train_seconds": seconds,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=list(HEADS))
    parser.add_argument("--difficulties", nargs="+", type=float, default=[0.5])
    parser.add_argument("--num-classes", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train", type=int, default=4000, help="training images")
    parser.add_argument("--test", type=int, default=1000, help="test images")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)

    rows = [
        run_one(head, difficulty, args) for difficulty in args.difficulties for head in args.heads
    ]
    epochs = " / ".join(str(e) for e in range(1, args.epochs + 1))
    table = markdown_table(
        ["head", "difficulty", f"test accuracy after epoch {epochs}", "training time"],
        [
            [
                HEADS[r["head"]],
                r["difficulty"],
                " / ".join(f"{a:.2f}" for a in r["test_accuracy_per_epoch"]),
                f"{r['train_seconds']:.0f} s",
            ]
            for r in rows
        ],
    )
    setting = (
        f"{args.num_classes} classes, {args.train} training and {args.test} test images at "
        f"{args.image_size}×{args.image_size}; 4-layer CNN "
        f"({'-'.join(map(str, WIDTHS))} channels, BatchNorm), Adam {args.learning_rate:g}, "
        f"batch {args.batch_size}, seed {args.seed}; chance is {1 / args.num_classes:.3f}."
    )
    print(f"\n{table}\n\n{setting}")
    write_results(
        "synthetic_learnability",
        f"{table}\n\n{setting}",
        {"settings": settings_of(args), "rows": rows},
        results_dir=args.results_dir,
        title="Learnability of the synthetic dataset",
    )


if __name__ == "__main__":
    main()
