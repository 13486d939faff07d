"""Fashion-MNIST accuracy of the CPU-friendly models, next to the published table.

Trains on the real Fashion-MNIST files (Debian package `dataset-fashion-mnist`)
with `fgkeras.train`, evaluates on the official test split, and prints test
accuracy and wall time per model:

- the full 10-class set, to compare with the published test accuracies
  (2-conv CNN 0.916, VGG16 0.935, ResNet18 0.949, WRN-28-10 0.959, humans 0.835);
- the fine-grained subset T-shirt/top, Pullover, Coat, Shirt
  (`fashion_mnist_tops`), every model with the same epochs and batch size
  (equal budget), to compare a global-pooling baseline with bilinear heads.

    .venv/bin/python benchmarks/fashion_mnist.py                    # full schedule
    .venv/bin/python benchmarks/fashion_mnist.py --epochs 1 --limit 2000   # smoke run

The results table is also written to benchmarks/results/fashion_mnist.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import fgkeras  # noqa: E402

PUBLISHED = "2-conv CNN 0.916, VGG16 0.935, ResNet18 0.949, WRN-28-10 0.959, humans 0.835"


def run(source, model, epochs, limit, batch_size, learning_rate, out_dir, options):
    start = time.time()
    result = fgkeras.train(
        model,
        source,
        run_dir=os.path.join(out_dir, f"{source}-{model}"),
        backbone="tiny",
        weights=None,
        image_size=28,
        batch_size=batch_size,
        epochs=epochs,
        learning_rate=learning_rate,
        warmup_epochs=1.0 if epochs > 2 else 0.0,
        weight_decay=5e-4,
        augment="light",
        limit=limit,
        model_options=options or None,
        verbose=0,
    )
    return result.metrics["top1_accuracy"], time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs on the full set")
    parser.add_argument("--subset-epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--limit", type=int, default=None, help="examples per split (smoke runs)")
    parser.add_argument("--full-models", nargs="+", default=["baseline"])
    parser.add_argument("--subset-models", nargs="+", default=["baseline", "bcnn", "cbp"])
    parser.add_argument("--out", default="benchmarks/results/fashion_mnist.md")
    args = parser.parse_args()

    options = {"cbp": {"output_dim": 2048}}
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        plan = [("fashion_mnist", m, args.epochs) for m in args.full_models]
        plan += [("fashion_mnist_tops", m, args.subset_epochs) for m in args.subset_models]
        for source, model, epochs in plan:
            accuracy, seconds = run(
                source,
                model,
                epochs,
                args.limit,
                args.batch_size,
                args.learning_rate,
                runs,
                options.get(model),
            )
            rows.append((source, model, epochs, accuracy, seconds))
            print(
                f"{source:<20}{model:<10}{epochs:>3} epochs  test acc {accuracy:.4f}  "
                f"{seconds / 60:5.1f} min",
                flush=True,
            )

    table = [
        "| data | model (tiny backbone) | epochs | test accuracy | wall time (min) |",
        "|---|---|---|---|---|",
    ]
    table += [f"| {s} | {m} | {e} | {a:.4f} | {t / 60:.1f} |" for s, m, e, a, t in rows]
    text = "\n".join(table) + f"\n\nPublished (full set): {PUBLISHED}.\n"
    print("\n" + text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as file:
        file.write(f"Command: `python benchmarks/fashion_mnist.py` (2 CPU cores)\n\n{text}")


if __name__ == "__main__":
    main()
