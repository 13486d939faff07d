"""Figures of the multimodal models: attribute predictions and retrieval results.

- `plot_attribute_predictions`: an image next to its predicted attribute
  probabilities (``attribute_multitask``'s "attribute_logits" after a
  sigmoid), with the true attributes outlined;
- `plot_retrieval`: what `fgkeras.inference.text_retrieval.retrieve` found,
  the images ranked for a text query (or the texts ranked for an image),
  framed green when relevant and red when not.

Like `fgkeras.evaluation.plots`, each function draws on its own
`matplotlib.figure.Figure` (no pyplot, no global backend switch). It returns
the figure (a notebook shows it) and saves a PNG when given ``path``.
"""

from __future__ import annotations

import os
import textwrap

import numpy as np

MAX_ATTRIBUTES = 20
RELEVANT, IRRELEVANT, UNJUDGED = "tab:green", "tab:red", "0.6"


def plot_attribute_predictions(
    image,
    probabilities,
    attribute_names=None,
    targets=None,
    threshold=0.5,
    max_attributes=MAX_ATTRIBUTES,
    title=None,
    path=None,
):
    """An image and its predicted attribute probabilities, the true attributes outlined.

    Each attribute gets a filled bar, the predicted probability, and (with
    ``targets``) a black outline of the true value (1 present, 0 absent), so
    a bar that fills its outline is right. Filled bars are green where the
    prediction at ``threshold`` agrees with the target, red where it does
    not, grey without a target. With more than ``max_attributes`` attributes
    (CUB has 312) only the true ones and the most probable others are drawn.

    Args:
        image: ``[H, W, 3]`` pixels, 0-255 (any dtype) or floats in 0-1.
        probabilities: ``[A]`` predicted probabilities (e.g. the sigmoid of
            an ``attribute_multitask`` model's "attribute_logits").
        attribute_names: ``A`` names; None numbers them. Defaults to None.
        targets: ``[A]`` true values (0/1; NaN = unknown), or None.
            Defaults to None.
        threshold: probability at which an attribute counts as predicted
            present. Defaults to 0.5.
        max_attributes: most attributes drawn. Defaults to 20.
        title: title over the image. Defaults to None.
        path: a ``.png`` file to save the figure to, or None. Defaults to None.

    Returns:
        The `matplotlib.figure.Figure`.

    >>> figure = plot_attribute_predictions(
    ...     np.zeros((8, 8, 3), "uint8"), [0.9, 0.2, 0.7], ["red", "blue", "green"],
    ...     targets=[1, 0, 0])
    >>> [label.get_text() for label in figure.axes[1].get_yticklabels()]
    ['red', 'blue', 'green']
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    probabilities = np.asarray(probabilities, np.float64).reshape(-1)
    count = len(probabilities)
    names = _names(attribute_names, count, "attribute_names")
    truth = None
    if targets is not None:
        truth = np.asarray(targets, np.float64).reshape(-1)
        if len(truth) != count:
            raise ValueError(
                f"`targets` must have one value per attribute ({count}). "
                f"Received {len(truth)} values."
            )
    if int(max_attributes) < 1:
        raise ValueError(f"`max_attributes` must be >= 1. Received: {max_attributes!r}")
    shown = _attributes_shown(probabilities, truth, int(max_attributes))

    figure = Figure(figsize=(8.0, max(2.4, 0.28 * len(shown) + 0.9)))
    image_axis, bar_axis = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    image_axis.imshow(_displayable(image))
    image_axis.set_axis_off()
    if title:
        image_axis.set_title(title, fontsize=9)

    rows = np.arange(len(shown))
    values = probabilities[shown]
    colours = [UNJUDGED] * len(shown)
    if truth is not None:
        colours = [
            UNJUDGED if np.isnan(t) else RELEVANT if (p >= threshold) == (t >= 0.5) else IRRELEVANT
            for p, t in zip(values, truth[shown])
        ]
        known = ~np.isnan(truth[shown])
        bar_axis.barh(rows[known], truth[shown][known], height=0.8, fill=False, edgecolor="k",
                      linewidth=1.0)  # fmt: skip
    bar_axis.barh(rows, values, height=0.55, color=colours)
    bar_axis.axvline(threshold, color="0.4", linestyle=":", linewidth=1)
    bar_axis.set_yticks(rows, [names[i] for i in shown], fontsize=8)
    bar_axis.set_ylim(len(shown) - 0.5, -0.5)  # first attribute on top
    bar_axis.set_xlim(0, 1.02)
    bar_axis.set_xlabel("predicted probability")
    if truth is not None:
        bar_axis.legend(
            handles=[
                Patch(facecolor="none", edgecolor="k", label="true value"),
                Patch(color=RELEVANT, label="right"),
                Patch(color=IRRELEVANT, label="wrong"),
            ],
            loc="lower right", fontsize=7, framealpha=0.9,
        )  # fmt: skip
    if count > len(shown):
        bar_axis.set_title(f"{len(shown)} of {count} attributes", fontsize=9)
    return _finish(figure, path)


def plot_retrieval(found, relevant=None, captions=None, path=None):
    """The results of a retrieval, best first: images for a text query, or texts for an image.

    Draws ``found``, the dict `fgkeras.inference.text_retrieval.retrieve`
    returns (``fgkeras retrieve --json`` prints the same): for a text query
    a row of the ranked image files, each titled with its rank and cosine
    score; for an image query the image and the ranked texts with their
    scores as bars.

    Args:
        found: ``{"query": ..., "results": [{"rank", "score", "image" | "text"}, ...]}``.
        relevant: one bool per result (e.g. "of the class the query
            describes"): frames (bars) green when True, red when False; None
            draws them grey. Defaults to None.
        captions: one more line of text under each result image (e.g. its
            class), or None. Defaults to None.
        path: a ``.png`` file to save the figure to, or None. Defaults to None.

    Returns:
        The `matplotlib.figure.Figure`.

    >>> import tempfile
    >>> from PIL import Image
    >>> files = [os.path.join(tempfile.mkdtemp(), f"{c}.png") for c in ("red", "blue")]
    >>> for file, colour in zip(files, ("red", "blue")):
    ...     Image.new("RGB", (8, 8), colour).save(file)
    >>> found = {"query": "a red bird", "results": [
    ...     {"rank": 1, "score": 0.9, "image": files[0]},
    ...     {"rank": 2, "score": 0.1, "image": files[1]}]}
    >>> figure = plot_retrieval(found, relevant=[True, False], captions=["red", "blue"])
    >>> [axis.get_title().splitlines() for axis in figure.axes]
    [['#1  0.90', 'red'], ['#2  0.10', 'blue']]
    """
    from matplotlib.figure import Figure

    results = list(found.get("results", [])) if isinstance(found, dict) else []
    if not results:
        raise ValueError(f"`found` holds no results to draw. Received: {found!r}")
    for what, values in (("relevant", relevant), ("captions", captions)):
        if values is not None and len(values) != len(results):
            raise ValueError(
                f"`{what}` must have one entry per result ({len(results)}). Received {len(values)}."
            )
    if relevant is None:
        colours = [UNJUDGED] * len(results)
    else:
        colours = [RELEVANT if is_relevant else IRRELEVANT for is_relevant in relevant]
    query = str(found.get("query", ""))

    if "image" in results[0]:
        figure = Figure(figsize=(1.6 * len(results) + 0.4, 2.5))
        axes = np.atleast_1d(figure.subplots(1, len(results)))
        for n, (axis, result, colour) in enumerate(zip(axes, results, colours)):
            axis.imshow(_displayable(_read_image(result["image"])))
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(4)
            caption = f"\n{captions[n]}" if captions is not None else ""
            axis.set_title(f"#{result['rank']}  {result['score']:.2f}{caption}", fontsize=8)
        figure.suptitle(f"query: {textwrap.shorten(query, 90)}", fontsize=10)
        return _finish(figure, path)

    figure = Figure(figsize=(9.0, max(2.4, 0.4 * len(results) + 0.8)))
    image_axis, bar_axis = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.2]})
    image_axis.imshow(_displayable(_read_image(query)))
    image_axis.set_axis_off()
    image_axis.set_title(textwrap.shorten(os.path.basename(query), 40), fontsize=8)
    rows = np.arange(len(results))
    bar_axis.barh(rows, [r["score"] for r in results], color=colours)
    labels = [f"#{r['rank']} " + textwrap.shorten(str(r["text"]), 60) for r in results]
    bar_axis.set_yticks(rows, labels, fontsize=8)
    bar_axis.set_ylim(len(results) - 0.5, -0.5)
    bar_axis.set_xlabel("cosine similarity")
    return _finish(figure, path)


def _attributes_shown(probabilities, truth, limit):
    """Indices drawn: all when few, else the true ones and the most probable, by probability."""
    if len(probabilities) <= limit:
        return np.arange(len(probabilities))
    order = np.argsort(-probabilities, kind="stable")
    present = [] if truth is None else [i for i in order if truth[i] >= 0.5][:limit]
    others = [i for i in order if i not in set(present)][: limit - len(present)]
    return np.array(sorted(present + others, key=lambda i: -probabilities[i]), int)


def _names(names, count, what):
    if names is None:
        return [str(i) for i in range(count)]
    names = [str(name) for name in names]
    if len(names) != count:
        raise ValueError(f"`{what}` must have {count} entries. Received {len(names)}.")
    return names


def _displayable(image):
    """``[H, W, 3]`` pixels for imshow: uint8 0-255, or floats in 0-1 kept as they are."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"An image must be [H, W, 3]. Received shape {image.shape}")
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float32)
    if image.size and float(np.nanmax(image)) > 1.0:
        return np.clip(image, 0, 255).astype(np.uint8)
    return np.clip(image, 0.0, 1.0)


def _read_image(path):
    from PIL import Image

    with Image.open(os.fspath(path)) as image:
        return np.asarray(image.convert("RGB"))


def _finish(figure, path):
    if figure.get_layout_engine() is None:
        figure.tight_layout()
    if path is not None:
        path = os.fspath(path)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        figure.savefig(path, dpi=100)
    return figure
