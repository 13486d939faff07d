"""Figures of an evaluation: confusion matrices (one, or several side by side),
per-class accuracy, training curves, a 2-D projection of the embeddings and
a grid of a backbone's feature maps.

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
    "embedding_projection": "embedding_projection.png",
    "confusion_matrices": "confusion_matrices.png",
    "feature_maps": "feature_maps.png",
}
MAX_LEGEND_CLASSES = 20
MAX_PROJECTED_POINTS = 2000
PROJECTION_METHODS = ("auto", "pca", "tsne")


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
    from matplotlib.figure import Figure

    confusion = np.asarray(confusion, np.float64)
    num_classes = confusion.shape[0]
    side = min(16.0, 4.0 + 0.3 * min(num_classes, MAX_LABELED_CLASSES) + 0.02 * num_classes)
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.add_subplot()
    image = _draw_confusion(ax, confusion, class_names, title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    return _save(fig, path, "confusion_matrix")


def plot_confusion_matrices(confusions, class_names=None, titles=None, path=".") -> str:
    """Save several row-normalized confusion matrices side by side as one PNG.

    For comparing tasks or models at a glance: e.g. the same network trained
    on all of Fashion-MNIST and on its four kinds of tops, where the errors
    of the full task crowd into the tops. The panels share one colour scale
    (fraction of each true class, 0 to 1); each is drawn as by
    `plot_confusion_matrix` and may have its own number of classes.

    Args:
        confusions: a list of int arrays ``[C_i, C_i]``, rows true class,
            columns predicted.
        class_names: one list of ``C_i`` names per matrix, or None for
            indices. Defaults to None.
        titles: one title per matrix. Defaults to None (number of classes
            and accuracy).
        path: a ``.png`` file, or a folder to write ``confusion_matrices.png``
            into. Defaults to ".".

    Returns:
        The path written.

    >>> import tempfile
    >>> out = plot_confusion_matrices([[[3, 1], [0, 4]], [[5, 0, 1], [1, 4, 1], [0, 2, 4]]],
    ...                               [["a", "b"], ["x", "y", "z"]], path=tempfile.mkdtemp())
    >>> os.path.basename(out)
    'confusion_matrices.png'
    """
    from matplotlib.figure import Figure

    confusions = [np.asarray(c, np.float64) for c in confusions]
    if not confusions or any(c.ndim != 2 or c.shape[0] != c.shape[1] for c in confusions):
        raise ValueError(
            "plot_confusion_matrices needs a non-empty list of square matrices. Received "
            f"shapes: {[c.shape for c in confusions]}"
        )
    count = len(confusions)
    class_names = [None] * count if class_names is None else list(class_names)
    titles = [None] * count if titles is None else list(titles)
    if len(class_names) != count or len(titles) != count:
        raise ValueError(
            f"Give one list of class names and one title per matrix ({count}). Received: "
            f"{len(class_names)} class name lists, {len(titles)} titles."
        )
    largest = max(min(len(c), MAX_LABELED_CLASSES) for c in confusions)
    side = min(9.0, 3.0 + 0.25 * largest)
    fig = Figure(figsize=(side * count + 1.0, side), layout="constrained")
    axes = [fig.add_subplot(1, count, n + 1) for n in range(count)]
    for ax, confusion, names, title in zip(axes, confusions, class_names, titles):
        image = _draw_confusion(ax, confusion, names, title)
    fig.colorbar(image, ax=axes, fraction=0.03, pad=0.02, label="fraction of true class")
    return _save(fig, path, "confusion_matrices")


def _draw_confusion(ax, confusion, class_names, title):
    """Draw one row-normalized confusion matrix on ``ax``; return its image for a colorbar."""
    from matplotlib.colors import PowerNorm

    num_classes = confusion.shape[0]
    support = confusion.sum(axis=1, keepdims=True)
    rates = np.divide(confusion, support, out=np.zeros_like(confusion), where=support > 0)
    if title is None:
        accuracy = np.trace(confusion) / max(confusion.sum(), 1)
        title = f"Confusion matrix ({num_classes} classes, top-1 {accuracy:.1%})"
    # Past the labelled size a square-root colour scale keeps rare confusions visible.
    norm = PowerNorm(0.5 if num_classes > MAX_LABELED_CLASSES else 1.0, vmin=0.0, vmax=1.0)
    image = ax.imshow(rates, cmap="Blues", norm=norm, interpolation="nearest")
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
    return image


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
    from matplotlib.ticker import MaxNLocator

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
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no 1.5 epochs with few epochs
        ax.grid(alpha=0.3)
        if "learning_rate" not in metric and metric != "lr":
            ax.legend()
    return _save(fig, path, "training_curves")


def plot_embedding_projection(
    embeddings, labels, class_names=None, path=".", method="auto", max_points=None, seed=0
) -> str:
    """Save a 2-D projection of embeddings as a scatter plot coloured by class.

    Well-separated, compact colour clusters mean the embedding groups images
    of one class together: what retrieval and few-shot recognition rely on.
    ``"pca"`` projects on the two principal axes (NumPy SVD; distances along
    them are faithful, clusters may overlap); ``"tsne"`` (needs scikit-learn,
    an optional dependency) keeps neighbourhoods, so clusters separate, but
    distances between clusters mean little. ``"auto"`` takes t-SNE when
    scikit-learn is installed, else PCA.

    Args:
        embeddings: float array ``[N, D]``.
        labels: ``N`` int class indices.
        class_names: names for the legend (drawn up to `MAX_LEGEND_CLASSES`
            classes). Defaults to None.
        path: a ``.png`` file, or a folder to write ``embedding_projection.png``
            into. Defaults to ".".
        method: ``"auto"``, ``"pca"`` or ``"tsne"``. Defaults to "auto".
        max_points: draw a random subset of at most this many points (t-SNE
            is slow and a crowded plot says little). None means
            `MAX_PROJECTED_POINTS`. Defaults to None.
        seed: seed of the subset and of t-SNE. Defaults to 0.

    Returns:
        The path written.

    >>> import tempfile
    >>> rng = np.random.default_rng(0)
    >>> emb = np.concatenate([rng.normal(0, 1, (20, 8)), rng.normal(5, 1, (20, 8))])
    >>> out = plot_embedding_projection(emb, [0] * 20 + [1] * 20, ["a", "b"],
    ...                                 tempfile.mkdtemp(), method="pca")
    >>> os.path.basename(out)
    'embedding_projection.png'
    """
    from matplotlib.figure import Figure

    x = np.asarray(embeddings, np.float64)
    labels = np.asarray(labels).reshape(-1)
    if x.ndim != 2 or len(x) != len(labels) or len(x) == 0:
        raise ValueError(
            "plot_embedding_projection needs embeddings [N, D] and N labels, N >= 1. "
            f"Received: embeddings.shape={x.shape}, labels.shape={labels.shape}"
        )
    if method not in PROJECTION_METHODS:
        raise ValueError(f"`method` must be one of {PROJECTION_METHODS}. Received: {method!r}")
    total = len(x)
    max_points = MAX_PROJECTED_POINTS if max_points is None else int(max_points)
    if total > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(total, max_points, replace=False))
        x, labels = x[keep], labels[keep]
    points, method_name = _project(x, method, seed)

    classes = np.unique(labels)
    names = list(class_names) if class_names is not None else None
    fig = Figure(figsize=(8.5 if len(classes) <= MAX_LEGEND_CLASSES else 7.0, 6.5))
    ax = fig.add_subplot()
    cmap = _class_colours(len(classes))
    for n, label in enumerate(classes):
        mask = labels == label
        name = names[int(label)] if names is not None and 0 <= int(label) < len(names) else label
        ax.scatter(points[mask, 0], points[mask, 1], s=12, alpha=0.75, color=cmap(n),
                   label=_short(name), linewidths=0)  # fmt: skip
    if len(classes) <= MAX_LEGEND_CLASSES:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False,
                  markerscale=1.5)  # fmt: skip
    shown = f"{len(x)} of {total}" if len(x) < total else f"{total}"
    ax.set_title(f"Embeddings, {method_name} ({shown} points, {len(classes)} classes)")
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path, "embedding_projection")


def plot_feature_maps(feature_maps, image=None, max_channels=8, path=".", title=None) -> str:
    """Save a grid of one image's feature maps: one row per layer, its most active channels.

    Each row shows the ``max_channels`` channels with the largest mean
    activation, strongest first, each on its own colour scale (bright = high
    activation), labelled with the layer's name, map size and channel count.
    The input image, when given, is drawn in a first column.

    Args:
        feature_maps: ``{name: array [h, w, channels]}`` for one image (a
            leading batch axis of size 1 is dropped), e.g. one image's slice
            of `fgkeras.models.backbones.feature_maps`.
        image: the input, ``[H, W]`` or ``[H, W, 1 or 3]`` 0-255 pixels.
            Defaults to None.
        max_channels: channels shown per layer. Defaults to 8.
        path: a ``.png`` file, or a folder to write ``feature_maps.png`` into.
            Defaults to ".".
        title: figure title. Defaults to None.

    Returns:
        The path written.

    >>> import tempfile
    >>> maps = {"conv1": np.random.rand(8, 8, 4), "conv2": np.random.rand(4, 4, 16)}
    >>> out = plot_feature_maps(maps, np.zeros((8, 8)), max_channels=3, path=tempfile.mkdtemp())
    >>> os.path.basename(out)
    'feature_maps.png'
    """
    from matplotlib.figure import Figure

    rows = {}
    for name, value in dict(feature_maps).items():
        value = np.asarray(value, np.float64)
        if value.ndim == 4 and value.shape[0] == 1:
            value = value[0]
        if value.ndim != 3:
            raise ValueError(
                "plot_feature_maps takes one image's maps, [h, w, channels] each. Received: "
                f"{name!r} with shape {value.shape}"
            )
        rows[name] = value
    if not rows or int(max_channels) < 1:
        raise ValueError(
            "plot_feature_maps needs at least one map and max_channels >= 1. Received: "
            f"{len(rows)} maps, max_channels={max_channels!r}"
        )
    columns = int(max_channels) + (image is not None)
    fig = Figure(figsize=(1.0 * columns + 1.0, 1.2 * len(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(rows), columns, squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    if image is not None:
        pixels = np.asarray(image, np.float64)
        pixels = pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels
        axes[0, 0].imshow(np.clip(pixels, 0, 255).astype(np.uint8), cmap="gray", vmin=0, vmax=255)
        axes[0, 0].set_title("input", fontsize=8)
    for row, (name, value) in enumerate(rows.items()):
        strongest = np.argsort(-value.mean(axis=(0, 1)), kind="stable")[: int(max_channels)]
        for n, channel in enumerate(strongest):
            ax = axes[row, n + (image is not None)]
            ax.imshow(value[..., channel], cmap="viridis", interpolation="nearest")
            ax.set_title(f"ch {channel}", fontsize=7)
        height, width, channels = value.shape
        axes[row, int(image is not None)].set_ylabel(
            f"{_short(name, 26)}\n{height}×{width}, {channels} ch", fontsize=6
        )
    if title:
        fig.suptitle(title)
    return _save(fig, path, "feature_maps")


def _project(x, method, seed):
    """2-D coordinates of ``x`` and the method's name for the title."""
    if method in ("auto", "tsne"):
        try:
            from sklearn.manifold import TSNE
        except ImportError as error:
            if method == "tsne":
                raise ValueError(
                    "method='tsne' needs scikit-learn (pip install scikit-learn); "
                    "or use method='pca'."
                ) from error
        else:
            if len(x) > 4:
                perplexity = min(30.0, (len(x) - 1) / 3.0)
                tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
                return tsne.fit_transform(x), "t-SNE"
    centred = x - x.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    points = centred @ vt[:2].T
    if points.shape[1] < 2:  # 1-D embeddings: a line
        points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))
    variance = singular**2
    share = variance[:2].sum() / variance.sum() if variance.sum() > 0 else 1.0
    return points, f"PCA ({share:.0%} of variance)"


def _class_colours(num_classes):
    from matplotlib import colormaps

    if num_classes <= 10:
        return colormaps["tab10"]
    if num_classes <= 20:
        return colormaps["tab20"]
    turbo = colormaps["turbo"]
    return lambda n: turbo(n / max(num_classes - 1, 1))


def save_figure(fig, path, file_name, dpi=100) -> str:
    """Write a Matplotlib figure as a PNG; the one saver of every fgkeras plot.

    Args:
        fig: a ``matplotlib.figure.Figure`` (without a layout engine it gets
            ``tight_layout``).
        path: a ``.png`` file, or a folder to write ``file_name`` into
            (folders are created).
        file_name: the file name used when ``path`` is a folder.
        dpi: resolution. Defaults to 100.

    Returns:
        The path written.

    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> written = save_figure(Figure(), tempfile.mkdtemp(), "empty.png")
    >>> os.path.basename(written), os.path.getsize(written) > 0
    ('empty.png', True)
    """
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        os.makedirs(path, exist_ok=True)
        path = os.path.join(path, file_name)
    else:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path


def _save(fig, path, kind) -> str:
    return save_figure(fig, path, FILE_NAMES[kind])


def _short(name, width=24) -> str:
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
