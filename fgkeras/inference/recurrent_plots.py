"""Drawing helpers for recurrent models: boxes on images, one attention map per step.

Both functions draw into Matplotlib axes the caller owns (``plt.subplots``
in a notebook, a bare `matplotlib.figure.Figure` in a script), so they never
switch the global backend. Maps come from
`fgkeras.inference.explanations.attention_maps` (``lstm_attention``'s
"attention_maps_step<t>" layers) and boxes from a model's "glimpse_boxes"
layer or a source's ``part_bbox``.
"""

import numpy as np

from fgkeras.inference.explanations import upsample


def draw_boxes(axis, boxes, size, color="w", labels=None, linewidth=1.0) -> list:
    """Draw normalized (ymin, xmin, ymax, xmax) boxes on an image axis.

    Args:
        axis: a Matplotlib axis showing an image of ``size`` pixels.
        boxes: (k, 4) normalized boxes (values may leave [0, 1]).
        size: (height, width) of the image in pixels, or one int.
        color: edge colour, or one colour per box. Defaults to "w".
        labels: optional text per box, written at its top-left corner.
            Defaults to None.
        linewidth: edge width. Defaults to 1.0.

    Returns:
        The added `matplotlib.patches.Rectangle` patches.

    >>> from matplotlib.figure import Figure
    >>> axis = Figure().add_subplot()
    >>> patches = draw_boxes(axis, [[0.0, 0.0, 0.5, 0.25]], 32, labels=["1"])
    >>> [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in patches]
    [(0.0, 0.0, 8.0, 16.0)]
    """
    from matplotlib.patches import Rectangle

    height, width = (size, size) if np.isscalar(size) else size
    boxes = np.asarray(boxes, "float32").reshape(-1, 4)
    colors = [color] * len(boxes) if isinstance(color, str) else list(color)
    if len(colors) != len(boxes) or (labels is not None and len(labels) != len(boxes)):
        raise ValueError(
            "`color` (when a list) and `labels` need one entry per box. Received: "
            f"{len(boxes)} boxes, color={color!r}, labels={labels!r}"
        )
    patches = []
    for k, (ymin, xmin, ymax, xmax) in enumerate(boxes):
        x, y = float(xmin * width), float(ymin * height)
        patch = Rectangle(
            (x, y),
            float((xmax - xmin) * width),
            float((ymax - ymin) * height),
            fill=False,
            edgecolor=colors[k],
            linewidth=linewidth,
        )
        axis.add_patch(patch)
        patches.append(patch)
        if labels is not None:
            axis.text(x + 0.5, y + 0.5, str(labels[k]), color=colors[k], fontsize=7, va="top")
    return patches


def plot_attention_steps(axes, images, maps, boxes=None, titles=None, alpha=0.5) -> None:
    """Draw each image followed by its attention map at every step, one row per image.

    Args:
        axes: a (rows, steps + 1) array of axes (``plt.subplots(rows, steps + 1)``).
        images: (rows, height, width, 3) raw 0-255 pixels.
        maps: (rows, h, w, steps) maps (e.g. ``lstm_attention``'s steps
            stacked on the last axis), each drawn max-normalized.
        boxes: optional (rows, k, 4) normalized boxes (e.g. part boxes)
            drawn in white on every panel. Defaults to None.
        titles: optional text per row, shown over its image. Defaults to None.
        alpha: opacity of the maps. Defaults to 0.5.

    >>> from matplotlib.figure import Figure
    >>> axes = Figure().subplots(1, 3, squeeze=False)
    >>> plot_attention_steps(axes, np.zeros((1, 8, 8, 3)), np.ones((1, 2, 2, 2)))
    >>> [axis.get_title() for axis in axes[0]]
    ['', 'step 1', 'step 2']
    """
    images = np.asarray(images, "float32")
    maps = np.asarray(maps, "float32")
    axes = np.asarray(axes).reshape(len(images), -1)
    if maps.ndim != 4 or len(maps) != len(images) or axes.shape[1] != maps.shape[-1] + 1:
        raise ValueError(
            "plot_attention_steps needs maps (rows, h, w, steps) for the images and "
            "(rows, steps + 1) axes. Received: "
            f"images {images.shape}, maps {maps.shape}, axes {axes.shape}"
        )
    size = images.shape[1:3]
    for row, image in enumerate(images):
        pixels = np.clip(image / 255.0, 0.0, 1.0)
        for column, axis in enumerate(axes[row]):
            axis.imshow(pixels)
            if column:
                heat = upsample(maps[row, ..., column - 1], size)
                heat = heat / max(float(heat.max()), 1e-12)
                axis.imshow(heat, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
                if row == 0:
                    axis.set_title(f"step {column}", fontsize=8)
            elif titles is not None:
                axis.set_title(str(titles[row]), fontsize=8)
            if boxes is not None:
                draw_boxes(axis, boxes[row], size)
            axis.axis("off")
