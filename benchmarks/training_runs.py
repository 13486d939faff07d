"""Shared pieces of the benchmarks that train registered models with `fgkeras.train`.

A benchmark lists *runs* (one model, one data setting, one seed), trains each
at the same budget and keeps one row per run in its results JSON, so an
interrupted benchmark resumes where it stopped and can be run in parts
(``--models``, ``--seeds``). Rows are only reused when the budget recorded
with them is the current one.

>>> mean_spread([0.5, 0.7, 0.6])
'0.600 ± 0.100'
>>> rows = [{"model": "a", "seed": 0}]
>>> done_keys(rows, ("model", "seed"))
{('a', 0)}
"""

from __future__ import annotations

import json
import os
import time

import numpy as np


def add_run_arguments(parser, models) -> None:
    """The options of a benchmark made of (model, seed) runs: ``--models`` (all of
    ``models`` by default), ``--seeds`` (0 1 2), ``--quick`` and ``--fresh``."""
    parser.add_argument("--models", nargs="+", default=list(models), choices=list(models))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--fresh", action="store_true", help="ignore earlier results")


def mean_spread(values, digits=3) -> str:
    """``"mean ± half the range"`` of ``values`` (the spread the benchmarks report)."""
    values = np.asarray([v for v in values if v is not None], np.float64)
    if values.size == 0:
        return "—"
    return f"{values.mean():.{digits}f} ± {(values.max() - values.min()) / 2:.{digits}f}"


def load_data(json_path, budget: dict, fresh=False) -> dict:
    """The ``data`` of an earlier run of the benchmark when its budget equals ``budget``
    (else ``{}``)."""
    if fresh or not os.path.exists(json_path):
        return {}
    with open(json_path) as file:
        earlier = json.load(file)["data"]
    if earlier.get("budget") != budget:
        print(f"budget changed since {json_path}; starting over")
        return {}
    return earlier


def load_rows(json_path, budget: dict, fresh=False) -> list:
    """Rows of an earlier run of the benchmark when its budget equals ``budget``."""
    return list(load_data(json_path, budget, fresh).get("rows", []))


def done_keys(rows, fields) -> set:
    """The ``fields`` tuples of the rows already measured."""
    return {tuple(row[f] for f in fields) for row in rows}


def row_metrics(result) -> dict:
    """The figures a benchmark row keeps from a `fgkeras.train` result (its
    ``val_split`` is the test split): top-1, train seconds and, when the data
    has a label tree, per-level accuracy and mistake severity."""
    metrics = result.metrics
    row = {
        "top1": metrics["top1_accuracy"],
        "train_seconds": metrics["train_seconds"],
    }
    hierarchy = metrics.get("hierarchy")
    if hierarchy:
        row["level_accuracy"] = hierarchy["level_accuracy"]
        row["mistake_severity"] = hierarchy["mistake_severity"]
        if "head_level_accuracy" in hierarchy:
            row["head_level_accuracy"] = hierarchy["head_level_accuracy"]
            row["head_path_consistency"] = hierarchy["head_path_consistency"]
    return row


def relative_step_costs(models: dict, images, labels, repeats=7, reference="baseline") -> dict:
    """Each compiled model's median train-step seconds over ``reference``'s.

    One warm-up step each, then ``repeats`` rounds in which every model takes
    one step on the same batch, so that a slower minute on a shared machine
    hits every model alike.
    """
    for model in models.values():
        model.train_on_batch(images, labels)  # trace and warm up
    times = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(images, labels)
            times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    return {name: medians[name] / medians[reference] for name in models}
