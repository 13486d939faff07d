"""Training curves of several runs side by side, and the gap between training and validation.

Overfitting shows as a training curve that keeps improving while the
validation curve stalls or turns back. `plot_curve_comparison` draws one
panel per run (training solid, validation dashed, shared axes), so runs
with and without a regulariser compare at a glance; `generalization_gap`
puts a number on the gap at the end.

A history is what `fgkeras.train` returns (``result.history``, ``{key:
[one value per epoch]}``), a Keras ``History`` or its ``.history`` dict, a
run directory, or its ``history.csv``.
"""

from __future__ import annotations

import os

import numpy as np

from fgkeras.evaluation.plots import read_history, save_figure

FILE_NAME = "curve_comparison.png"


def as_history(history) -> dict:
    """A history as ``{key: float array}`` (``epoch`` dropped).

    Args:
        history: a dict of per-epoch lists, a Keras ``History`` (its
            ``.history``), a run directory or a ``history.csv`` path.

    >>> as_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.9]})["val_loss"].tolist()
    [1.1, 0.9]
    """
    if hasattr(history, "history") and isinstance(history.history, dict):
        history = history.history
    if isinstance(history, str | os.PathLike):
        path = os.fspath(history)
        history = read_history(os.path.join(path, "history.csv") if os.path.isdir(path) else path)
    if not isinstance(history, dict) or not history:
        raise ValueError(
            "A history must be a non-empty dict of per-epoch values, a keras History, a run "
            f"directory or a history.csv path. Received: {history!r}"
        )
    return {
        str(key): np.asarray(values, dtype="float64").reshape(-1)
        for key, values in history.items()
        if key != "epoch"
    }


def generalization_gap(history, metric="accuracy") -> dict:
    """Training minus validation value of ``metric`` at the last epoch, and the best epoch.

    For an accuracy a positive gap means the model does better on the images
    it was trained on; for a loss the gap is validation minus training, so
    that a positive gap means the same. Note that Keras logs the training
    value as the mean over the epoch's batches, with dropout and
    augmentation on; evaluate the final model on clean training images for
    a gap free of both.

    Args:
        history: see `as_history`.
        metric: a metric logged with its ``val_`` counterpart. Defaults to
            "accuracy".

    Returns:
        ``{"train", "validation", "gap", "best_epoch", "best_validation"}``
        (epochs counted from 1; best is the highest validation value, or the
        lowest for a metric whose name contains "loss").

    >>> gap = generalization_gap({"accuracy": [0.6, 0.9], "val_accuracy": [0.7, 0.65]})
    >>> round(gap["gap"], 2), gap["best_epoch"]
    (0.25, 1)
    >>> round(generalization_gap({"loss": [0.9, 0.2], "val_loss": [1.0, 1.2]}, "loss")["gap"], 2)
    1.0
    """
    values = as_history(history)
    train, validation = _pair(values, metric)
    lower_is_better = "loss" in metric
    sign = -1.0 if lower_is_better else 1.0
    best = int(np.nanargmin(validation) if lower_is_better else np.nanargmax(validation))
    return {
        "train": float(train[-1]),
        "validation": float(validation[-1]),
        "gap": float(sign * (train[-1] - validation[-1])),
        "best_epoch": best + 1,
        "best_validation": float(validation[best]),
    }


def plot_curve_comparison(histories, labels=None, metrics=("accuracy",), path=".") -> str:
    """Save training and validation curves of several runs side by side as a PNG.

    One column per run, one row per metric; training solid, validation
    dashed, the same y axis across a row, and each panel's title gives the
    gap at the last epoch (see `generalization_gap`).

    Args:
        histories: a list of histories (see `as_history`), or a dict
            ``{label: history}``.
        labels: one title per run; None takes the dict's keys or "run 1",
            "run 2", ... Defaults to None.
        metrics: metrics to draw, each logged with its ``val_`` counterpart.
            Defaults to ("accuracy",).
        path: a ``.png`` file, or a folder to write ``curve_comparison.png``
            into. Defaults to ".".

    Returns:
        The path written.

    >>> import tempfile
    >>> runs = {"plain": {"accuracy": [0.5, 0.9], "val_accuracy": [0.5, 0.6]},
    ...         "augmented": {"accuracy": [0.5, 0.7], "val_accuracy": [0.5, 0.65]}}
    >>> os.path.basename(plot_curve_comparison(runs, path=tempfile.mkdtemp()))
    'curve_comparison.png'
    """
    from matplotlib.figure import Figure

    if isinstance(histories, dict):
        labels = list(histories) if labels is None else labels
        histories = list(histories.values())
    histories = [as_history(history) for history in histories or []]
    if not histories:
        raise ValueError("`histories` is empty: give at least one run's history.")
    labels = [f"run {n + 1}" for n in range(len(histories))] if labels is None else list(labels)
    if len(labels) != len(histories):
        raise ValueError(
            f"Give one label per history: {len(histories)} histories. Received: labels={labels!r}"
        )
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics:
        raise ValueError("`metrics` is empty: name at least one, e.g. ('accuracy',).")
    rows, cols = len(metrics), len(histories)
    fig = Figure(figsize=(3.6 * cols, 2.9 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey="row")
    for row, metric in enumerate(metrics):
        for col, (history, label) in enumerate(zip(histories, labels)):
            train, validation = _pair(history, metric)
            epochs = np.arange(1, len(train) + 1)
            ax = axes[row][col]
            ax.plot(epochs, train, "-", marker="o", markersize=3, label="training")
            ax.plot(epochs, validation, "--", marker="o", markersize=3, label="validation")
            gap = generalization_gap(history, metric)["gap"]
            ax.set_title(f"{label}\n{metric}: gap at end {gap:+.3f}", fontsize=9)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(metric)
                ax.legend(fontsize=8)
    return _save_comparison(fig, path)


def _pair(history, metric):
    if metric not in history or f"val_{metric}" not in history:
        raise ValueError(
            f"The history has no {metric!r} with its 'val_{metric}': it logs "
            f"{sorted(history)}. Train with a validation split, or name a logged metric."
        )
    train, validation = history[metric], history[f"val_{metric}"]
    if len(train) != len(validation) or not len(train):
        raise ValueError(
            f"{metric!r} and 'val_{metric}' must have one value per epoch each. "
            f"Received {len(train)} and {len(validation)} values."
        )
    return train, validation


def _save_comparison(fig, path) -> str:
    return save_figure(fig, path, FILE_NAME)
