"""Tests of fgkeras.inference.recurrent_plots (boxes and per-step attention grids)."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from fgkeras.inference.recurrent_plots import draw_boxes, plot_attention_steps


def test_draw_boxes_scales_to_pixels_and_labels():
    axis = Figure().add_subplot()
    patches = draw_boxes(
        axis, [[0.25, 0.5, 0.75, 1.0], [0, 0, 1, 1]], (40, 20), color=["r", "b"], labels="ab"
    )
    assert [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in patches] == [
        (10.0, 10.0, 10.0, 20.0),
        (0.0, 0.0, 20.0, 40.0),
    ]
    assert [text.get_text() for text in axis.texts] == ["a", "b"]


def test_draw_boxes_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="one entry per box"):
        draw_boxes(Figure().add_subplot(), [[0, 0, 1, 1]], 8, labels=["a", "b"])


def test_plot_attention_steps_draws_each_step_normalized():
    axes = Figure().subplots(2, 4, squeeze=False)
    maps = np.zeros((2, 2, 2, 3), "float32")
    maps[:, 0, 0, :] = 5.0  # a peak in the top-left cell at every step
    boxes = np.array([[[0, 0, 0.5, 0.5]], [[0.5, 0.5, 1, 1]]], "float32")
    plot_attention_steps(axes, np.zeros((2, 8, 8, 3)), maps, boxes=boxes, titles=["x", "y"])
    assert [axis.get_title() for axis in axes[0]] == ["x", "step 1", "step 2", "step 3"]
    assert axes[1, 0].get_title() == "y"
    heat = axes[0, 1].images[1].get_array()
    assert heat.shape == (8, 8) and float(heat.max()) == pytest.approx(1.0)
    assert all(len(axis.patches) == 1 for axis in axes.ravel())


def test_plot_attention_steps_rejects_wrong_axes():
    with pytest.raises(ValueError, match="steps \\+ 1"):
        plot_attention_steps(
            Figure().subplots(1, 2, squeeze=False), np.zeros((1, 8, 8, 3)), np.ones((1, 2, 2, 3))
        )
