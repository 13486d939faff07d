"""Quick looks at data: a grid of images with their labels and boxes (matplotlib)."""

from __future__ import annotations

import numpy as np


def plot_examples(images, labels=None, class_names=None, boxes=None, ncols=8, size=1.6,
                  title=None):  # fmt: skip
    """A matplotlib figure of images in a grid, titled by class, with optional boxes.

    Args:
        images: ``[N, H, W, 3]`` array (0-255).
        labels: ``[N]`` int labels. Defaults to None.
        class_names: names for the titles. Defaults to None (numbers).
        boxes: ``[N, K, 4]`` or ``[N, 4]`` normalized boxes to draw. Defaults to None.
        ncols: images per row. Defaults to 8.
        size: inches per image. Defaults to 1.6.
        title: figure title. Defaults to None.

    >>> fig = plot_examples(np.zeros((2, 8, 8, 3)), [0, 1], ["a", "b"])
    >>> len(fig.axes)
    2
    """
    import matplotlib.pyplot as plt  # pyplot, so the figure shows inline in notebooks

    images = np.asarray(images)
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, min(n, ncols), figsize=(size * min(n, ncols), size * nrows),
                             squeeze=False)  # fmt: skip
    colors = ["white", "yellow", "cyan", "magenta"]
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        h, w = images[i].shape[:2]
        ax.imshow(np.clip(images[i], 0, 255).astype(np.uint8))
        if labels is not None:
            name = class_names[labels[i]] if class_names is not None else str(labels[i])
            ax.set_title(name.replace(" ", "\n"), fontsize=6)
        if boxes is not None:
            for k, (y0, x0, y1, x1) in enumerate(np.asarray(boxes[i]).reshape(-1, 4)):
                ax.add_patch(
                    plt.Rectangle((x0 * w - 0.5, y0 * h - 0.5), (x1 - x0) * w, (y1 - y0) * h,
                                  fill=False, lw=0.8, ec=colors[k % len(colors)])
                )  # fmt: skip
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
