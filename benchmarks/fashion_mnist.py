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
    # the recipe search of issue 13 item 3: seeds, EMA, flip TTA (reported apart)
    .venv/bin/python benchmarks/fashion_mnist.py --subset-models --seeds 0 1 2 \
        --epochs 16 --ema-momentum 0.999 --augment fgvc --tta flip

``--seeds`` trains each model once per seed (the table shows mean ± half the
range); ``--tta flip`` adds the accuracy of the mean softmax of each test
image and its mirror as its own column, next to the single-view accuracy;
``--ema-momentum`` evaluates the moving average of the weights;
``--resize-size 32`` trains on random 28-px crops of the image resized to
32 px (±2 px shifts; the test images take the centre crop) and
``--label-smoothing`` smooths the cross-entropy's targets.

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
from training_runs import mean_spread  # noqa: E402

import fgkeras  # noqa: E402

PUBLISHED = "2-conv CNN 0.916, VGG16 0.935, ResNet18 0.949, WRN-28-10 0.959, humans 0.835"
DATA_LABELS = {
    "fashion_mnist": "Fashion-MNIST (10 classes)",
    "fashion_mnist_tops": "tops subset (T-shirt/top, Pullover, Coat, Shirt)",
}
OPTIONS = {"cbp": {"output_dim": 2048}}


def model_label(model) -> str:
    options = OPTIONS.get(model, {})
    return f"{model} ({options['output_dim']}-d)" if "output_dim" in options else model


def results_table(rows) -> str:
    """Markdown table of result rows, with the published figures under it.

    Each row is a dict: source, model, epochs, test_accuracy, wall_minutes,
    and optionally seed and tta_accuracy. Rows of one (source, model,
    epochs) are one line: the value, or mean ± half the range over seeds.
    """
    lines = {}
    for r in rows:
        lines.setdefault((r["source"], r["model"], r["epochs"]), []).append(r)
    with_tta = any(r.get("tta_accuracy") is not None for r in rows)
    body = []
    for (source, model, epochs), runs in lines.items():

        def figure(key, digits=4, runs=runs):
            values = [r[key] for r in runs if r.get(key) is not None]
            if not values:
                return "–"
            return f"{values[0]:.{digits}f}" if len(values) == 1 else mean_spread(values, digits)

        line = [DATA_LABELS.get(source, source), model_label(model), epochs, len(runs)]
        line += [figure("test_accuracy")] + ([figure("tta_accuracy")] if with_tta else [])
        body.append(line + [figure("wall_minutes", 1)])
    header = ["data", "model (tiny backbone)", "epochs", "seeds", "test accuracy"]
    header += ["with flip TTA"] if with_tta else []
    table = markdown_table(header + ["wall time (min)"], body)
    return f"{table}\n\nPublished test accuracies (full set): {PUBLISHED}."


def run(source, model, epochs, args, out_dir, options, seed):
    """Train one model on one source with one seed; return its row."""
    start = time.time()
    result = fgkeras.train(
        model,
        source,
        run_dir=os.path.join(out_dir, f"{source}-{model}-s{seed}"),
        backbone="tiny",
        weights=None,
        image_size=28,
        batch_size=args.batch_size,
        epochs=epochs,
        learning_rate=args.learning_rate,
        warmup_epochs=1.0 if epochs > 2 else 0.0,
        weight_decay=5e-4,
        augment=args.augment,
        resize_size=args.resize_size,
        label_smoothing=args.label_smoothing,
        ema_momentum=args.ema_momentum,
        limit=args.limit,
        model_options=options or None,
        seed=seed,
        verbose=0,
    )
    seconds = time.time() - start
    row = {
        "source": source,
        "model": model,
        "epochs": epochs,
        "seed": seed,
        "test_accuracy": float(result.metrics["top1_accuracy"]),
        "wall_minutes": seconds / 60,
    }
    if args.tta:
        from fgkeras.evaluation import evaluate_run

        metrics = evaluate_run(result.run_dir, tta=args.tta)
        row["tta_accuracy"] = float(metrics["tta"]["top1_accuracy"])
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs on the full set")
    parser.add_argument("--subset-epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--augment", default="light", help="augmentation policy")
    parser.add_argument(
        "--resize-size",
        type=int,
        default=None,
        help="resize to this, then crop 28 px (random in training, centre at test)",
    )
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--ema-momentum", type=float, default=None, help="weight averaging")
    parser.add_argument("--tta", choices=["flip"], default=None, help="add a TTA column")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--limit", type=int, default=None, help="examples per split (smoke runs)")
    parser.add_argument("--full-models", nargs="*", default=["baseline"])
    parser.add_argument("--subset-models", nargs="*", default=["baseline", "bcnn", "cbp"])
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as runs:
        plan = [("fashion_mnist", m, args.epochs) for m in args.full_models]
        plan += [("fashion_mnist_tops", m, args.subset_epochs) for m in args.subset_models]
        for source, model, epochs in plan:
            for seed in args.seeds:
                row = run(source, model, epochs, args, runs, OPTIONS.get(model), seed)
                rows.append(row)
                tta = f"  flip TTA {row['tta_accuracy']:.4f}" if "tta_accuracy" in row else ""
                print(
                    f"{source:<20}{model:<10}{epochs:>3} epochs seed {seed}  "
                    f"test acc {row['test_accuracy']:.4f}{tta}  {row['wall_minutes']:5.1f} min",
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
