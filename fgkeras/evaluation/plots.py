"""Figures of an evaluation: confusion matrix, per-class accuracy, training curves.

Each function draws on its own `matplotlib.figure.Figure` (no pyplot, no global
backend switch, safe in threads and notebooks) and saves a PNG.
Confusion matrices stay readable up to a few hundred classes: tick labels
are drawn only up to `MAX_LABELED_CLASSES` classes, counts only up to
`MAX_ANNOTATED_CLASSES`.
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

MAX_LABELED_CLASSES = 30
MAX_ANNOTATED_CLASSES = 15
FILE_NAMES = {
    "confusion_matrix": "confusion_matrix.png",
    "per_class_accuracy": "per_class_accuracy.png",
    "training_curves": "training_curves.png",
}


def plot_confusion_matrix(confusion, class_names=None, path=".", title=None) -> str:
    """Save the row-normalized confusion matrix (rows: true class) as a PNG.

    Colours show the fraction of each true class predicted as each class, so
    small and large classes are comparable; cells are annotated with counts
    when there are at most `MAX_ANNOTATED_CLASSES` classes.

    Args:
        confusion: int array ``[C, C]``, rows true class, columns predicted.
        class_names: ``C`` names for the ticks (used up to
            `MAX_LABELED_CLASSES` classes). Defaults to None.
        path: a ``.png`` file, or a folder to write ``confusion_matrix.png`` into.
            Defaults to ".".
        title: figure title. Defaults to None (accuracy from the diagonal).

    Returns:
        The path written.

    >>> import tempfile
    >>> out = plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"], tempfile.mkdtemp())
    >>> os.path.basename(out)
    'confusion_matrix.png'
    """
    from matplotlib.colors import PowerNorm
    from matplotlib.figure import Figure

    confusion = np.asarray(confusion, np.float64)
    num_classes = confusion.shape[0]
    support = confusion.sum(axis=1, keepdims=True)
    rates = np.divide(confusion, support, out=np.zeros_like(confusion), where=support > 0)
    if title is None:
        accuracy = np.trace(confusion) / max(confusion.sum(), 1)
        title = f"Confusion matrix ({num_classes} classes, top-1 {accuracy:.1%})"

    side = min(16.0, 4.0 + 0.3 * min(num_classes, MAX_LABELED_CLASSES) + 0.02 * num_classes)
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.add_subplot()
    # Past the labelled size a square-root colour scale keeps rare confusions visible.
    norm = PowerNorm(0.5 if num_classes > MAX_LABELED_CLASSES else 1.0, vmin=0.0, vmax=1.0)
    image = ax.imshow(rates, cmap="Blues", norm=norm, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if num_classes <= MAX_LABELED_CLASSES:
        names = [_short(n) for n in (class_names or [str(i) for i in range(num_classes)])]
        ax.set_xticks(range(num_classes), names, rotation=90, fontsize=8)
        ax.set_yticks(range(num_classes), names, fontsize=8)
    else:
        ax.tick_params(labelbottom=False, labelleft=False, length=0)
    if num_classes <= MAX_ANNOTATED_CLASSES:
        for i in range(num_classes):
            for j in range(num_classes):
                if confusion[i, j]:
                    color = "white" if rates[i, j] > 0.5 else "black"
                    ax.text(j, i, f"{int(confusion[i, j])}", ha="center", va="center",
                            color=color, fontsize=8)  # fmt: skip
    return _save(fig, path, "confusion_matrix")


def plot_per_class_accuracy(per_class, path=".", title=None) -> str:
    """Save per-class accuracy as bars, worst class first, with the mean as a line.

    Args:
        per_class: the ``per_class`` list of
            `fgkeras.evaluation.evaluator.metrics_from_predictions` (classes without
            examples are left out).
        path: a ``.png`` file, or a folder to write ``per_class_accuracy.png`` into.
            Defaults to ".".
        title: figure title. Defaults to None.

    Returns:
        The path written.

    >>> import tempfile
    >>> rows = [{"name": "a", "accuracy": 0.5}, {"name": "b", "accuracy": 1.0}]
    >>> os.path.basename(plot_per_class_accuracy(rows, tempfile.mkdtemp()))
    'per_class_accuracy.png'
    """
    from matplotlib.figure import Figure

    rows = sorted(
        (row for row in per_class if row.get("accuracy") is not None),
        key=lambda row: row["accuracy"],
    )
    accuracies = np.array([row["accuracy"] for row in rows], np.float64)
    width = min(18.0, 5.0 + 0.25 * min(len(rows), MAX_LABELED_CLASSES) + 0.03 * len(rows))
    fig = Figure(figsize=(width, 4.5))
    ax = fig.add_subplot()
    ax.bar(np.arange(len(rows)), accuracies, width=0.8, color="tab:blue")
    if len(rows):
        mean = float(accuracies.mean())
        ax.axhline(mean, color="tab:red", linestyle="--", label=f"mean per class {mean:.1%}")
        ax.legend(loc="lower right")
    ax.set_ylim(0.0, 1.02)
    ax.set_ylabel("accuracy")
    ax.set_title(title or f"Per-class accuracy ({len(rows)} classes, worst first)")
    if len(rows) <= MAX_LABELED_CLASSES:
        names = [_short(row["name"]) for row in rows]
        ax.set_xticks(range(len(rows)), names, rotation=90, fontsize=8)
    else:
        ax.set_xlabel("classes, sorted by accuracy")
        ax.set_xticks([])
    ax.set_xlim(-0.6, max(len(rows), 1) - 0.4)
    return _save(fig, path, "per_class_accuracy")


def read_history(history_csv) -> dict:
    """Read a Keras ``CSVLogger`` file into ``{column: float array}``.

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "history.csv")
    >>> _ = open(path, "w").write("epoch,accuracy,loss\\n0,0.5,1.2\\n1,0.75,0.8\\n")
    >>> read_history(path)["loss"].tolist()
    [1.2, 0.8]
    """
    if not os.path.isfile(history_csv):
        raise FileNotFoundError(f"History CSV not found: {os.fspath(history_csv)!r}")
    with open(history_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = rows[0].keys() if rows else []
    return {key: np.array([_float(row.get(key)) for row in rows]) for key in columns}


def plot_training_curves(history_csv, path=".") -> str:
    """Save training and validation curves of a Keras ``CSVLogger`` file.

    One panel per metric (``loss``, ``accuracy``, ...), training solid and
    ``val_`` dashed; the learning rate, when logged, gets its own panel.

    Args:
        history_csv: path of the CSV (columns ``epoch``, ``loss``, ``val_loss``, ...).
        path: a ``.png`` file, or a folder to write ``training_curves.png`` into.
            Defaults to ".".

    Returns:
        The path written.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> csv_path = os.path.join(folder, "history.csv")
    >>> _ = open(csv_path, "w").write("epoch,loss,val_loss\\n0,1.0,1.1\\n1,0.5,0.7\\n")
    >>> os.path.basename(plot_training_curves(csv_path, folder))
    'training_curves.png'
    """
    from matplotlib.figure import Figure

    history = read_history(history_csv)
    epochs = history.pop("epoch", None)
    if not history:
        raise ValueError(f"No metrics in history CSV {os.fspath(history_csv)!r}.")
    length = len(next(iter(history.values())))
    epochs = epochs + 1 if epochs is not None else np.arange(1, length + 1)
    metrics = [key for key in history if not key.startswith("val_")]
    metrics += [key[4:] for key in history if key.startswith("val_") and key[4:] not in history]
    metrics.sort(key=lambda key: (key != "loss", "learning_rate" in key or key == "lr", key))
    metrics = metrics[:6]
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(4.5 * cols, 3.5 * rows), layout="constrained")
    for n, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, n + 1)
        for key, style, label in ((metric, "-", "train"), (f"val_{metric}", "--", "validation")):
            if key in history:
                ax.plot(epochs, history[key], style, marker="o", markersize=3, label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if "learning_rate" not in metric and metric != "lr":
            ax.legend()
    return _save(fig, path, "training_curves")


def _save(fig, path, kind) -> str:
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        os.makedirs(path, exist_ok=True)
        path = os.path.join(path, FILE_NAMES[kind])
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _short(name, width=24) -> str:
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
