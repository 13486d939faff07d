"""Figures of example images: augmentation policies, and the mistakes behind confused pairs.

- `augmentation_views` runs the same images through each augmentation
  policy of `fgkeras.data.augment.build_augmenter` (what the trainer does on
  the device during training); `plot_augmentations` draws them, one row per
  policy and draw.
- `confused_examples` picks the test images behind each most-confused pair
  (true class → predicted class); `plot_confused_pairs` draws them next to
  correctly recognised examples of both classes, so that one can see *why*
  the classes are confused.

Like `fgkeras.evaluation.plots`, each plot draws on its own
`matplotlib.figure.Figure` (no pyplot, no global backend switch) and saves a
PNG; it returns the path written.
"""

from __future__ import annotations

import numpy as np

from fgkeras.data.augment import POLICIES, build_augmenter
from fgkeras.evaluation.metrics import most_confused_pairs
from fgkeras.evaluation.plots import save_figure

FILE_NAMES = {"augmentations": "augmentations.png", "confused_pairs": "confused_pairs.png"}
MAX_IMAGES = 12  # columns of a figure
DPI = 80  # grids of small images: 80 dpi keeps them sharp and the PNG light


def augmentation_views(images, policies=POLICIES, draws=2, seed=0) -> dict:
    """The same images under each augmentation policy, as the trainer applies them.

    Each policy's augmenter (`build_augmenter(policy, seed=seed)`) is called
    ``draws`` times in training mode on the whole batch, so every draw is a
    new random augmentation and the same ``seed`` repeats the result.
    ``"none"`` is the identity and gets one draw.

    Args:
        images: ``[N, H, W]``, ``[N, H, W, 1]`` or ``[N, H, W, 3]`` pixels in
            0-255 (grey images are repeated to 3 channels, as
            `fgkeras.data.load` does).
        policies: policy names, from `fgkeras.data.augment.POLICIES`.
            Defaults to all of them.
        draws: augmentations drawn per policy. Defaults to 2.
        seed: seed of the augmentation layers. Defaults to 0.

    Returns:
        ``{policy: float32 array [draws, N, H, W, 3]}`` in 0-255, in the
        order of ``policies`` (``[1, N, H, W, 3]`` for ``"none"``).

    >>> images = np.arange(2 * 4 * 4).reshape(2, 4, 4).astype("float32")
    >>> views = augmentation_views(images, ["none", "light"], draws=3)
    >>> {policy: view.shape for policy, view in views.items()}
    {'none': (1, 2, 4, 4, 3), 'light': (3, 2, 4, 4, 3)}
    >>> bool((views["none"][0, ..., 0] == images).all())
    True
    """
    images = _rgb_batch(images, "augmentation_views")
    policies = [policies] if isinstance(policies, str) else list(policies)
    unknown = [policy for policy in policies if policy not in POLICIES]
    if not policies or unknown:
        raise ValueError(
            f"`policies` must be a non-empty list from {list(POLICIES)}. Received: {policies!r}"
        )
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise ValueError(f"`draws` must be a positive integer. Received: draws={draws!r}")
    views = {}
    for policy in policies:
        augmenter = build_augmenter(policy, seed=seed)
        count = 1 if policy == "none" else int(draws)
        found = [np.asarray(augmenter(images, training=True), np.float32) for _ in range(count)]
        views[policy] = np.clip(np.stack(found), 0.0, 255.0)
    return views


def plot_augmentations(images, titles=None, policies=POLICIES, draws=2, seed=0, path=".") -> str:
    """Save a grid of the same images under each augmentation policy.

    One row per policy and draw (from `augmentation_views`), one column per
    image; the ``"none"`` row is the original images.

    Args:
        images: ``[N, H, W(, C)]`` pixels in 0-255, at most `MAX_IMAGES`.
        titles: ``N`` column titles (e.g. class names), or None.
            Defaults to None.
        policies: policy names. Defaults to all of `POLICIES`.
        draws: augmentations drawn per policy. Defaults to 2.
        seed: seed of the augmentation layers. Defaults to 0.
        path: a ``.png`` file, or a folder to write ``augmentations.png``
            into. Defaults to ".".

    Returns:
        The path written.

    >>> import os, tempfile
    >>> out = plot_augmentations(np.zeros((2, 8, 8)), ["a", "b"], ["none", "light"],
    ...                          path=tempfile.mkdtemp())
    >>> os.path.basename(out)
    'augmentations.png'
    """
    from matplotlib.figure import Figure

    images = _rgb_batch(images, "plot_augmentations")
    count = len(images)
    if count > MAX_IMAGES:
        raise ValueError(f"plot_augmentations draws at most {MAX_IMAGES} images. Received: {count}")
    titles = _titles(titles, count)
    views = augmentation_views(images, policies, draws, seed)
    rows = [
        (policy if len(view) == 1 else f"{policy} #{n + 1}", image_row)
        for policy, view in views.items()
        for n, image_row in enumerate(view)
    ]
    fig = Figure(figsize=(1.2 * count + 0.9, 1.25 * len(rows) + 0.3), layout="constrained")
    axes = fig.subplots(len(rows), count, squeeze=False)
    for r, (name, row) in enumerate(rows):
        for c in range(count):
            _show(axes[r, c], row[c])
            if r == 0 and titles[c]:
                axes[r, c].set_title(titles[c], fontsize=8)
        axes[r, 0].set_ylabel("none = original" if name == "none" else name, fontsize=8)
    return _save(fig, path, "augmentations")


def confused_examples(labels, predictions, pairs, per_pair=6) -> list:
    """Indices of the examples behind each confused pair, in dataset order.

    Args:
        labels: ``N`` true class indices.
        predictions: ``N`` predicted class indices.
        pairs: ``(true, predicted)`` class-index tuples, or the
            ``most_confused`` dicts of `fgkeras.evaluate`'s metrics.
        per_pair: at most this many indices per pair. Defaults to 6.

    Returns:
        One int array per pair: the first ``per_pair`` examples of class
        ``true`` that were predicted ``predicted``.

    >>> confused_examples([0, 1, 0, 0, 1], [1, 1, 1, 0, 0], [(0, 1), (1, 0), (1, 2)])
    [array([0, 2]), array([4]), array([], dtype=int64)]
    """
    labels, predictions = _labels_and_predictions(labels, predictions, "confused_examples")
    if isinstance(per_pair, bool) or not isinstance(per_pair, int | np.integer) or per_pair < 1:
        raise ValueError(f"`per_pair` must be a positive integer. Received: per_pair={per_pair!r}")
    found = []
    for true, predicted in _pair_indices(pairs):
        hits = np.flatnonzero((labels == true) & (predictions == predicted))
        found.append(hits[: int(per_pair)].astype(np.int64))
    return found


def plot_confused_pairs(
    images,
    labels,
    predictions,
    class_names=None,
    pairs=None,
    per_pair=6,
    probabilities=None,
    path=".",
) -> str:
    """Save the misclassified images of each confused pair, beside examples of both classes.

    One row per pair, labelled "true → predicted (count)": first a correctly
    recognised image of the true class and one of the predicted class (grey
    titles), then up to ``per_pair`` images of the true class that the model
    took for the predicted one (red titles, with the predicted class's
    probability when ``probabilities`` is given).

    Args:
        images: ``[N, H, W(, C)]`` pixels in 0-255, in the order of ``labels``.
        labels: ``N`` true class indices.
        predictions: ``N`` predicted class indices.
        class_names: names of the classes; None numbers them. Defaults to None.
        pairs: ``(true, predicted)`` class-index tuples or ``most_confused``
            dicts; None takes the 3 most confused pairs of ``labels`` and
            ``predictions``. Defaults to None.
        per_pair: misclassified images drawn per pair, at most. Defaults to 6.
        probabilities: ``[N, C]`` predicted probabilities, or None.
            Defaults to None.
        path: a ``.png`` file, or a folder to write ``confused_pairs.png``
            into. Defaults to ".".

    Returns:
        The path written.

    >>> import os, tempfile
    >>> out = plot_confused_pairs(np.zeros((4, 8, 8)), [0, 0, 1, 1], [0, 1, 1, 0], ["a", "b"],
    ...                           path=tempfile.mkdtemp())
    >>> os.path.basename(out)
    'confused_pairs.png'
    """
    from matplotlib.figure import Figure

    images = _rgb_batch(images, "plot_confused_pairs")
    labels, predictions = _labels_and_predictions(labels, predictions, "plot_confused_pairs")
    if len(images) != len(labels):
        raise ValueError(
            f"plot_confused_pairs needs one image per label. Received: {len(images)} images, "
            f"{len(labels)} labels."
        )
    num_classes = int(max(labels.max(), predictions.max())) + 1 if len(labels) else 0
    if probabilities is not None:
        probabilities = np.asarray(probabilities, np.float64)
        if probabilities.ndim != 2 or len(probabilities) != len(labels):
            raise ValueError(
                "`probabilities` must have shape [N, C], one row per label. Received: shape "
                f"{probabilities.shape} for {len(labels)} labels."
            )
        num_classes = max(num_classes, probabilities.shape[1])
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if len(class_names) < num_classes:
            raise ValueError(
                f"`class_names` must name all {num_classes} classes. Received "
                f"{len(class_names)}: {class_names}"
            )
        num_classes = len(class_names)
    else:
        class_names = [str(i) for i in range(num_classes)]
    if pairs is None:
        confusion = np.zeros((num_classes, num_classes), np.int64)
        np.add.at(confusion, (labels, predictions), 1)
        pairs = most_confused_pairs(confusion, class_names, num_pairs=3)
    pairs = _pair_indices(pairs)
    if not pairs:
        raise ValueError("plot_confused_pairs has no pair to draw: there are no mistakes.")
    for pair in pairs:
        if max(pair) >= num_classes:
            raise ValueError(
                f"Pair {pair} names a class outside the {num_classes} classes. Received: "
                f"pairs={pairs}"
            )
    chosen = confused_examples(labels, predictions, pairs, per_pair)
    correct = labels == predictions
    columns = 2 + min(int(per_pair), max(len(found) for found in chosen) or 1)
    fig = Figure(figsize=(1.25 * columns + 0.6, 1.55 * len(pairs) + 0.2), layout="constrained")
    axes = fig.subplots(len(pairs), columns, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for row, ((true, predicted), found) in enumerate(zip(pairs, chosen)):
        for col, cls in enumerate((true, predicted)):
            examples = np.flatnonzero(correct & (labels == cls))
            if len(examples):
                _show(axes[row, col], images[examples[0]])
                axes[row, col].set_title(f"a {_short(class_names[cls])}", fontsize=7, color="0.4")
        for col, index in enumerate(found, start=2):
            _show(axes[row, col], images[index])
            text = f"#{index}"
            if probabilities is not None:
                text += f" p={probabilities[index, predicted]:.2f}"
            axes[row, col].set_title(text, fontsize=7, color="tab:red")
        count = int(np.sum((labels == true) & (predictions == predicted)))
        axes[row, 0].set_axis_on()
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        axes[row, 0].set_ylabel(
            f"{_short(class_names[true], 14)}\n→ {_short(class_names[predicted], 14)}\n({count}×)",
            fontsize=8,
        )
    return _save(fig, path, "confused_pairs")


def _rgb_batch(images, caller):
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(
            f"{caller} needs a non-empty batch of images [N, H, W], [N, H, W, 1] or "
            f"[N, H, W, 3]. Received: shape {images.shape}"
        )
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def _labels_and_predictions(labels, predictions, caller):
    labels = np.asarray(labels).reshape(-1)
    predictions = np.asarray(predictions).reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(
            f"{caller} needs one prediction per label. Received: {labels.size} labels, "
            f"{predictions.size} predictions."
        )
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and (not np.issubdtype(values.dtype, np.integer) or values.min() < 0):
            raise ValueError(
                f"`{name}` must be class indices (non-negative integers). Received dtype "
                f"{values.dtype}, values from {values.min()} to {values.max()}."
            )
    return labels.astype(np.int64), predictions.astype(np.int64)


def _pair_indices(pairs):
    found = []
    for pair in list(pairs):
        if isinstance(pair, dict):
            pair = (pair.get("true_index"), pair.get("predicted_index"))
        try:
            true, predicted = (int(value) for value in pair)
        except (TypeError, ValueError):
            raise ValueError(
                "Each pair must be a (true, predicted) pair of class indices or a "
                f"most_confused dict with true_index and predicted_index. Received: {pair!r}"
            ) from None
        if true < 0 or predicted < 0:
            raise ValueError(f"Class indices must be >= 0. Received pair: {pair!r}")
        found.append((true, predicted))
    return found


def _titles(titles, count):
    if titles is None:
        return [""] * count
    titles = [str(title) for title in titles]
    if len(titles) != count:
        raise ValueError(f"Give one title per image ({count}). Received {len(titles)}: {titles}")
    return [_short(title, 14) for title in titles]


def _show(ax, image):
    ax.imshow(np.clip(image, 0, 255).astype(np.uint8), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _short(name, width=18) -> str:
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


def _save(fig, path, kind) -> str:
    return save_figure(fig, path, FILE_NAMES[kind], dpi=DPI)
