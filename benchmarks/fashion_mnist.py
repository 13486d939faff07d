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
    .venv/bin/python benchmarks/fashion_mnist.py --epochs 1 --subset-epochs 1 --limit 2000 \
        --results-dir /tmp/fashion-smoke                            # smoke run

Writes benchmarks/results/fashion_mnist.md and .json (``--results-dir`` elsewhere,
e.g. for smoke runs).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from results_io import (  # noqa: E402
    add_results_dir_argument,
    markdown_table,
    settings_of,
    write_results,
)

import fgkeras  # noqa: E402

PUBLISHED = "2-conv CNN 0.916, VGG16 0.935, ResNet18 0.949, WRN-28-10 0.959, humans 0.835"
DATA_LABELS = {
    "fashion_mnist": "Fashion-MNIST (10 classes)",
    "fashion_mnist_tops": "tops subset (T-shirt/top, Pullover, Coat, Shirt)",
}
OPTIONS = {"cbp": {"output_dim": 2048}}


def results_table(rows) -> str:
    """Markdown table of result rows, with the published figures under it.

    Each row is a dict: source, model, epochs, test_accuracy, wall_minutes.
    """
    table = markdown_table(
        ["data", "model (tiny backbone)", "epochs", "test accuracy", "wall time (min)"],
        [
            [
                DATA_LABELS.get(r["source"], r["source"]),
                f"{r['model']} ({OPTIONS[r['model']]['output_dim']}-d)"
                if "output_dim" in OPTIONS.get(r["model"], {})
                else r["model"],
                r["epochs"],
                f"{r['test_accuracy']:.4f}",
                f"{r['wall_minutes']:.1f}",
            ]
            for r in rows
        ],
    )
    return f"{table}\n\nPublished test accuracies (full set): {PUBLISHED}."


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs on the full set")
    parser.add_argument("--subset-epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--limit", type=int, default=None, help="examples per split (smoke runs)")
    parser.add_argument("--full-models", nargs="+", default=["baseline"])
    parser.add_argument("--subset-models", nargs="+", default=["baseline", "bcnn", "cbp"])
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)

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
                OPTIONS.get(model),
            )
            rows.append(
                {
                    "source": source,
                    "model": model,
                    "epochs": epochs,
                    "test_accuracy": float(accuracy),
                    "wall_minutes": seconds / 60,
                }
            )
            print(
                f"{source:<20}{model:<10}{epochs:>3} epochs  test acc {accuracy:.4f}  "
                f"{seconds / 60:5.1f} min",
                flush=True,
            )

    table = results_table(rows)
    print("\n" + table)
    write_results(
        "fashion_mnist",
        table,
        {"settings": settings_of(args), "model_options": OPTIONS, "rows": rows},
        results_dir=args.results_dir,
        title="Fashion-MNIST test accuracy (tiny backbone, 28x28)",
    )


if __name__ == "__main__":
    main()
