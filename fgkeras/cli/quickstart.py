"""The main job: train a baseline and a bilinear model, compare, export the better.

Runs on a fresh machine with no download: the built-in ``synthetic``
fine-grained dataset, the CPU-friendly ``tiny`` backbone, a few epochs each.

    fgkeras quickstart                      # a few minutes on a 2-core CPU
    fgkeras quickstart --epochs 12 --train-examples 4000   # the longer schedule
"""

from __future__ import annotations

import argparse
import math
import os
import time

from fgkeras.cli.signature_flags import add_function_flags
from fgkeras.training.run_dir import write_json


def quickstart(
    models: tuple = ("baseline", "bcnn"),
    source: str = "synthetic",
    backbone: str = "tiny",
    image_size: int = 48,
    epochs: int = 4,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    train_examples: int | None = 1600,
    runs_dir: str = "runs/quickstart",
    export_dir: str = "saved_models",
    verbose: int | str = 2,
) -> dict:
    """Train each model on ``source``, evaluate, export the most accurate one.

    Args:
        models: registered model names to compare. Defaults to ("baseline", "bcnn").
        source: data source. Defaults to "synthetic".
        backbone: backbone of every model. Defaults to "tiny".
        image_size: input size. Defaults to 48.
        epochs: epochs per model. Defaults to 4.
        batch_size: batch size. Defaults to 32.
        learning_rate: peak learning rate (AdamW, cosine decay). Defaults to 2e-3.
        train_examples: number of images of each split (train and test) of the
            synthetic source (None: its defaults, 4000 and 1000). Defaults to 1600.
        runs_dir: where the run directories go. Defaults to "runs/quickstart".
        export_dir: TF Serving model base paths go under it. Defaults to
            "saved_models".
        verbose: Keras `fit` verbosity (2: one line per epoch). Defaults to 2.

    Returns:
        ``{"results": {model: metrics}, "best": name, "export_path": path,
        "summary_path": path}``.

    >>> out = str(getfixture("tmp_path"))
    >>> summary = quickstart(models=("baseline",), image_size=32, epochs=1,
    ...                      train_examples=32, runs_dir=out, export_dir=out,
    ...                      verbose=0)  # doctest: +ELLIPSIS
    [1/1] training baseline on synthetic (1 epochs)
    ...
    best: baseline, exported to .../baseline/1
    """
    from fgkeras.serving import export
    from fgkeras.training.run import train

    if not models:
        raise ValueError("`models` must name at least one registered model.")
    source_options = {}
    if source == "synthetic" and train_examples is not None:
        source_options["num_examples"] = train_examples
    results = {}
    for index, name in enumerate(models, start=1):
        print(f"[{index}/{len(models)}] training {name} on {source} ({epochs} epochs)", flush=True)
        start = time.time()
        result = train(
            name,
            source,
            run_dir=os.path.join(runs_dir, name),
            backbone=backbone,
            weights=None,
            image_size=image_size,
            batch_size=batch_size,
            epochs=epochs,
            learning_rate=learning_rate,
            warmup_epochs=min(1.0, epochs / 4),
            source_options=source_options or None,
            verbose=verbose,
        )
        results[name] = {
            "top1_accuracy": result.metrics["top1_accuracy"],
            "mean_per_class_accuracy": result.metrics["mean_per_class_accuracy"],
            "most_confused": result.metrics["most_confused"][:1],
            "num_examples": result.metrics["num_examples"],
            "parameters": int(result.model.count_params()),
            "seconds": round(time.time() - start, 1),
            "run_dir": result.run_dir,
            "_result": result,
        }
    best = max(results, key=lambda name: results[name]["top1_accuracy"])
    chosen = results[best].pop("_result")
    for entry in results.values():
        entry.pop("_result", None)
    export_path = export(
        chosen.model, os.path.join(export_dir, best), class_names=chosen.class_names
    )
    summary = {"results": results, "best": best, "export_path": export_path}
    summary["summary_path"] = os.path.join(runs_dir, "comparison.json")
    write_json(summary["summary_path"], summary)
    print(format_comparison(summary))
    return summary


def format_comparison(summary: dict) -> str:
    """The comparison table printed at the end of the main job, and what it shows.

    The gap between the two best models is read against its 95 % interval
    (normal approximation of two test accuracies on ``num_examples`` images):
    one seed, one budget, so a gap inside the interval is a tie.

    >>> print(format_comparison({"best": "a", "export_path": "saved_models/a/1",
    ...     "results": {"a": {"top1_accuracy": 0.9, "mean_per_class_accuracy": 0.9,
    ...     "parameters": 10, "seconds": 1.0, "most_confused": [], "num_examples": 1000},
    ...     "b": {"top1_accuracy": 0.89, "mean_per_class_accuracy": 0.89,
    ...     "parameters": 20, "seconds": 2.0, "most_confused": [], "num_examples": 1000}}}))
    model        top-1  mean/class      params   seconds  most confused (true -> predicted)
    a            0.900       0.900          10       1.0  -
    b            0.890       0.890          20       2.0  -
    <BLANKLINE>
    a vs b: 1.0 points apart, within the 95 % interval of +-2.7 points on 1000 test images:
    a tie at this budget (one seed).
    best: a, exported to saved_models/a/1
    """
    lines = [
        f"{'model':<10}{'top-1':>9}{'mean/class':>12}{'params':>12}{'seconds':>10}"
        "  most confused (true -> predicted)"
    ]
    for name, entry in summary["results"].items():
        confused = entry["most_confused"]
        pair = f"{confused[0]['true']} -> {confused[0]['predicted']}" if confused else "-"
        lines.append(
            f"{name:<10}{entry['top1_accuracy']:>9.3f}{entry['mean_per_class_accuracy']:>12.3f}"
            f"{entry['parameters']:>12,}{entry['seconds']:>10.1f}  {pair}"
        )
    lines.append("")
    ranked = sorted(summary["results"], key=lambda n: -summary["results"][n]["top1_accuracy"])
    if len(ranked) >= 2 and summary["results"][ranked[0]].get("num_examples"):
        lines.append(_reading(ranked[0], ranked[1], summary["results"]))
    lines.append(f"best: {summary['best']}, exported to {summary['export_path']}")
    return "\n".join(lines)


def _reading(first: str, second: str, results: dict) -> str:
    """One honest sentence on the gap between the two best models."""
    a, b = results[first]["top1_accuracy"], results[second]["top1_accuracy"]
    n = results[first]["num_examples"]
    interval = 1.96 * math.sqrt((a * (1 - a) + b * (1 - b)) / n)
    gap = a - b
    head = f"{first} vs {second}: {100 * gap:.1f} points apart"
    if gap <= interval:
        return (
            f"{head}, within the 95 % interval of +-{100 * interval:.1f} points on {n} test "
            "images:\na tie at this budget (one seed)."
        )
    return (
        f"{head}, more than the 95 % interval of +-{100 * interval:.1f} points on {n} test "
        f"images:\n{first} is better at this budget (one seed; other budgets, backbones and "
        "pretrained weights can change the order)."
    )


def add_parser(subparsers) -> None:
    """Add the `quickstart` subcommand; flags mirror `quickstart` 1:1."""
    parser = subparsers.add_parser(
        "quickstart",
        help="train a baseline and a bilinear model on built-in data, compare, export the better",
        argument_default=argparse.SUPPRESS,
    )
    add_function_flags(parser, quickstart, skip=("models",))
    parser.add_argument("--models", nargs="+", help="registered models to compare")
    parser.set_defaults(func=run)


def run(args) -> int:
    from fgkeras.cli.main import function_kwargs

    kwargs = function_kwargs(args)
    if "models" in kwargs:
        kwargs["models"] = tuple(kwargs["models"])
    quickstart(**kwargs)
    return 0
