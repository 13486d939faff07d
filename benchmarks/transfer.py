"""Pretrain, then fine-tune: do the fine-grained heads help on real data?

The article's methods start from a backbone pretrained on a large generic
dataset and fine-tune a fine-grained head on the target classes. Offline, the
same protocol on Fashion-MNIST:

1. **Pretrain** the backbone (`baseline`, tiny backbone, random init) on the
   six classes that are *not* tops (Trouser, Dress, Sandal, Sneaker, Bag,
   Ankle boot: 36,000 training images), once per input size; its run
   directory keeps ``backbone.weights.h5``.
2. **Fine-tune** each single-image classifier on the four tops (T-shirt/top,
   Pullover, Coat, Shirt: 24,000 training / 4,000 test images) from those
   weights (``weights=<pretraining run>``), every model at the same epochs,
   batch and learning rate, with its paper's recipe where one applies
   (`RECIPES`): the bilinear family first trains its classifier on the
   frozen backbone (B-CNN's two phases); WS-DAN, MA-CNN, RA-CNN and
   two-stage train with their own `train_step` (attention crop and drop,
   channel grouping, the zoomed views).
3. ``--random-init-models`` (default `baseline`, `bcnn`) are also trained
   from random initialisation with the same budget, to show what
   pretraining changes.

Each row is one (size, model, init, seed) run; it records top-1, mean
per-class accuracy, the T-shirt/Shirt confusion (share of T-shirt and Shirt
test images predicted as the other), per-class accuracy and wall time. Rows
are kept in the results JSON and reused while the budget is unchanged, so the
benchmark resumes where it stopped and can be run in parts (``--models``,
``--seeds``, ``--sizes``). The pretraining run is kept in ``--runs-dir``.

    .venv/bin/python benchmarks/transfer.py                              # 28 px table
    .venv/bin/python benchmarks/transfer.py --sizes 56                   # upsampled
    .venv/bin/python benchmarks/transfer.py --quick --results-dir /tmp/tr  # smoke run

Writes benchmarks/results/transfer.md and .json (``--results-dir`` elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from results_io import add_results_dir_argument, markdown_table, write_results  # noqa: E402
from training_runs import done_keys, load_data, mean_spread  # noqa: E402

import fgkeras  # noqa: E402
from fgkeras.data.sources import FASHION_MNIST_CLASSES, FASHION_MNIST_TOPS  # noqa: E402

RESULTS = "transfer"
PRETRAIN_CLASSES = [
    name for i, name in enumerate(FASHION_MNIST_CLASSES) if i not in FASHION_MNIST_TOPS
]
TOPS = [FASHION_MNIST_CLASSES[i] for i in FASHION_MNIST_TOPS]
CONFUSED_PAIR = ("T-shirt/top", "Shirt")
# In the order they run (the first ones answer the main question soonest).
MODELS = ["baseline", "bcnn", "ws_dan", "soft_attention", "cbp", "isqrt_cov", "ma_cnn", "two_stage"]
# Per-model departures from the shared recipe: the papers' schedules.
RECIPES = {
    "bcnn": {"freeze_epochs": 1},  # Lin et al.: classifier on frozen features, then all
    "cbp": {"freeze_epochs": 1, "model_options": {"output_dim": 2048}},
    # The tiny backbone has 128 channels: the paper's 1x1 "reduction" to 256 would widen
    # them, and its 256x256 Newton-Schulz iterations cost 6x baseline's train step here.
    "isqrt_cov": {"freeze_epochs": 1, "model_options": {"reduce_channels": 128}},
}
ROW_KEY = ("size", "model", "init", "seed")
WEIGHT_DECAY, AUGMENT, WARMUP_EPOCHS = 5e-4, "light", 0.5


def budget_of(args) -> dict:
    """Everything that makes two rows comparable; rows of another budget are dropped."""
    return {
        "pretrain_classes": PRETRAIN_CLASSES,
        "pretrain_epochs": args.pretrain_epochs,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "weight_decay": WEIGHT_DECAY,
        "augment": AUGMENT,
        "limit": args.limit,
    }


def recipe_of(model, init) -> dict:
    """The options ``model`` is trained with beyond the shared ones (`RECIPES`);
    a random backbone gets no frozen first phase (freezing it teaches nothing).

    >>> recipe_of("bcnn", "random")
    {}
    """
    recipe = dict(RECIPES.get(model, {}))
    if init == "random":
        recipe.pop("freeze_epochs", None)
    return recipe


def current_rows(rows) -> list:
    """The rows trained with their model's recipe as `RECIPES` states it now:
    changing one model's recipe re-runs that model only."""
    return [row for row in rows if row.get("recipe") == recipe_of(row["model"], row["init"])]


def shared_options(args, size) -> dict:
    """The options every run of this benchmark shares (pretraining included)."""
    return {
        "backbone": "tiny",
        "image_size": size,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "warmup_epochs": WARMUP_EPOCHS,
        "weight_decay": WEIGHT_DECAY,
        "augment": AUGMENT,
        "limit": args.limit,
        "verbose": 0,
    }


def pretrained_run(args, size) -> tuple[str, dict]:
    """The pretraining run directory for ``size`` (trained now if not there yet)."""
    run_dir = os.path.join(args.runs_dir, f"pretrain-{size}px-e{args.pretrain_epochs}")
    if args.limit:
        run_dir += f"-limit{args.limit}"
    metrics_file = os.path.join(run_dir, "metrics.json")
    finished = [os.path.join(run_dir, "backbone.weights.h5"), metrics_file]
    if not all(os.path.exists(path) for path in finished):
        start = time.time()
        fgkeras.train(
            "baseline",
            "fashion_mnist",
            run_dir=run_dir,
            weights=None,
            classes=PRETRAIN_CLASSES,
            epochs=args.pretrain_epochs,
            seed=0,
            **shared_options(args, size),
        )
        print(f"pretrained {size} px in {(time.time() - start) / 60:.1f} min", flush=True)
    with open(metrics_file) as file:
        metrics = json.load(file)
    return run_dir, {"top1": metrics["top1_accuracy"], "train_seconds": metrics["train_seconds"]}


def confusion_rate(confusion, class_names, pair=CONFUSED_PAIR) -> float:
    """Share of the pair's test images predicted as the other class of the pair.

    >>> confusion_rate([[8, 2], [1, 9]], ["T-shirt/top", "Shirt"])
    0.15
    """
    confusion = np.asarray(confusion)
    a, b = (class_names.index(name) for name in pair)
    wrong = confusion[a, b] + confusion[b, a]
    return float(wrong / (confusion[a].sum() + confusion[b].sum()))


def fine_tune(model, size, init, seed, args, pretrained_dir) -> dict:
    """Train one row's run and return its row."""
    recipe = recipe_of(model, init)
    start = time.time()
    result = fgkeras.train(
        model,
        "fashion_mnist_tops",
        run_dir=os.path.join(args.runs_dir, f"{size}px-{model}-{init}-s{seed}"),
        weights=pretrained_dir if init == "pretrained" else None,
        epochs=args.epochs,
        seed=seed,
        **recipe,
        **shared_options(args, size),
    )
    metrics = result.metrics
    names = metrics["class_names"]
    return {
        "size": size,
        "model": model,
        "init": init,
        "seed": seed,
        "recipe": recipe,
        "top1": metrics["top1_accuracy"],
        "mean_per_class": metrics["mean_per_class_accuracy"],
        "tshirt_shirt_confusion": confusion_rate(metrics["confusion_matrix"], names),
        "per_class": {c["name"]: c["accuracy"] for c in metrics["per_class"]},
        "train_seconds": metrics["train_seconds"],
        "wall_seconds": time.time() - start,
    }


def run_plan(sizes, models, random_init_models, seeds) -> list[tuple]:
    """The (size, model, init, seed) runs in order, each random-init line right
    after its pretrained one.

    >>> run_plan([28], ["baseline", "cbp"], ["baseline"], [0])
    [(28, 'baseline', 'pretrained', 0), (28, 'baseline', 'random', 0), (28, 'cbp', 'pretrained', 0)]
    """
    pairs = []
    for model in models:
        pairs.append((model, "pretrained"))
        if model in random_init_models:
            pairs.append((model, "random"))
    pairs += [(m, "random") for m in random_init_models if m not in models]
    return [(size, m, init, seed) for size in sizes for m, init in pairs for seed in seeds]


def lines_of(rows) -> dict:
    """Rows grouped into table lines: (size, model, init) -> that line's runs."""
    lines = {}
    for row in rows:
        lines.setdefault((row["size"], row["model"], row["init"]), []).append(row)
    return lines


def results_table(rows, pretraining) -> str:
    """One line per (size, model, init): mean ± half the range over the seeds."""
    body = []
    lines = lines_of(rows)
    order = sorted(
        lines,
        key=lambda g: (g[0], g[2] != "pretrained", MODELS.index(g[1]) if g[1] in MODELS else 99),
    )
    for size, model, init in order:
        runs = lines[size, model, init]
        body.append(
            [
                f"{size} px",
                model,
                init,
                len(runs),
                mean_spread([r["top1"] for r in runs]),
                mean_spread([r["tshirt_shirt_confusion"] for r in runs]),
                mean_spread([r["per_class"]["Shirt"] for r in runs]),
                mean_spread([r["wall_seconds"] / 60 for r in runs], 1),
            ]
        )
    header = [
        "size",
        "model",
        "backbone init",
        "seeds",
        "top-1",
        "T-shirt↔Shirt confusion",
        "Shirt accuracy",
        "wall min",
    ]
    notes = [
        f"Pretraining ({', '.join(PRETRAIN_CLASSES)}; baseline, {size} px): six-class test "
        f"top-1 {p['top1']:.3f} in {p['train_seconds'] / 60:.1f} min."
        for size, p in sorted(pretraining.items())
    ]
    return (
        markdown_table(header, body)
        + "\n\nMean ± half the range over seeds. T-shirt↔Shirt confusion: share of the "
        "T-shirt/top and Shirt test images predicted as the other. "
        + options_note(sorted({line[1] for line in lines}))
        + "\n\n"
        + "\n".join(notes)
    )


def options_note(models) -> str:
    """The model options of ``models`` that depart from the registered defaults.

    >>> options_note(["baseline", "cbp"])
    'Model options other than the defaults: cbp output_dim=2048.'
    """
    departures = [
        f"{model} " + ", ".join(f"{k}={v}" for k, v in RECIPES[model]["model_options"].items())
        for model in models
        if RECIPES.get(model, {}).get("model_options")
    ]
    return f"Model options other than the defaults: {'; '.join(departures)}." if departures else ""


def readme_cells(rows, size=28) -> dict:
    """The README model table's transfer column: model -> "top-1 mean ± spread"
    of its pretrained runs at ``size`` (models with fewer than three seeds left out).

    >>> line = {"size": 28, "model": "bcnn", "init": "pretrained"}
    >>> rows = [dict(line, top1=t) for t in (0.8, 0.9, 0.85)]
    >>> readme_cells(rows)
    {'bcnn': '0.850 ± 0.050'}
    """
    return {
        model: mean_spread([r["top1"] for r in runs])
        for (line_size, model, init), runs in lines_of(rows).items()
        if (line_size, init) == (size, "pretrained") and len(runs) >= 3
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[28])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--random-init-models", nargs="*", default=["baseline", "bcnn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--pretrain-epochs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--limit", type=int, default=None, help="examples per split (smoke)")
    parser.add_argument("--runs-dir", default="runs/transfer", help="kept between parts")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--fresh", action="store_true", help="ignore earlier results")
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.pretrain_epochs, args.limit = [0], 1, 1, 512
        args.models, args.random_init_models = ["baseline", "bcnn"], ["baseline"]
    budget = budget_of(args)
    json_path = os.path.join(args.results_dir, f"{RESULTS}.json")
    earlier = load_data(json_path, budget, args.fresh)
    rows = current_rows(earlier.get("rows", []))
    done = done_keys(rows, ROW_KEY)
    plan = run_plan(args.sizes, args.models, args.random_init_models, args.seeds)
    pretraining = {int(size): p for size, p in earlier.get("pretraining", {}).items()}
    pretrained_dirs = {}
    title = "Transfer: pretrain on six Fashion-MNIST classes, fine-tune on the four tops"
    for size, model, init, seed in plan:
        if (size, model, init, seed) in done:
            continue
        if size not in pretrained_dirs:
            pretrained_dirs[size], pretraining[size] = pretrained_run(args, size)
        row = fine_tune(model, size, init, seed, args, pretrained_dirs[size])
        rows.append(row)
        print(
            f"{size} px {model:<15}{init:<11}seed {seed}: top-1 {row['top1']:.4f}  "
            f"T/S confusion {row['tshirt_shirt_confusion']:.3f}  "
            f"{row['wall_seconds'] / 60:.1f} min",
            flush=True,
        )
        write_results(
            RESULTS,
            results_table(rows, pretraining),
            {"budget": budget, "pretraining": pretraining, "rows": rows},
            results_dir=args.results_dir,
            title=title,
        )
    print(results_table(rows, pretraining))


if __name__ == "__main__":
    main()
