"""Figures of the multimodal models: attribute predictions and retrieval results."""

import os

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from PIL import Image

from fgkeras.evaluation.multimodal_plots import (
    IRRELEVANT,
    RELEVANT,
    plot_attribute_predictions,
    plot_retrieval,
)


def _bars(axis):
    """The filled bars of a bar axis (the outlines of the true values are unfilled)."""
    return [patch for patch in axis.patches if patch.get_fill()]


def test_attribute_plot_draws_each_attribute_right_or_wrong(tmp_path):
    path = tmp_path / "figures" / "attributes.png"
    figure = plot_attribute_predictions(
        np.full((16, 16, 3), 200.0),  # float pixels on the 0-255 scale
        [0.9, 0.8, 0.1, np.float32(0.3)],
        ["red crown", "blue wing", "red tail", "blue tail"],
        targets=[1, 0, 0, np.nan],
        title="a bird",
        path=path,
    )
    assert path.is_file() and Image.open(path).size[0] > 100
    image_axis, bar_axis = figure.axes[:2]
    assert image_axis.get_title() == "a bird"
    bars = _bars(bar_axis)
    assert [round(bar.get_width(), 2) for bar in bars] == [0.9, 0.8, 0.1, 0.3]
    # right, wrong (predicted present, absent), right, unknown target (grey)
    assert [bar.get_facecolor() for bar in bars[:3]] == [
        to_rgba(RELEVANT),
        to_rgba(IRRELEVANT),
        to_rgba(RELEVANT),
    ]
    assert bars[3].get_facecolor() not in (to_rgba(RELEVANT), to_rgba(IRRELEVANT))
    outlines = [patch for patch in bar_axis.patches if not patch.get_fill()]
    assert [patch.get_width() for patch in outlines] == [1, 0, 0]  # the known true values


def test_attribute_plot_keeps_the_true_attributes_when_there_are_many():
    rng = np.random.default_rng(0)
    probabilities = rng.uniform(0, 0.5, 312)
    targets = np.zeros(312)
    targets[[3, 100, 250]] = 1
    figure = plot_attribute_predictions(
        np.zeros((8, 8, 3), "uint8"), probabilities, targets=targets, max_attributes=10
    )
    shown = [int(label.get_text()) for label in figure.axes[1].get_yticklabels()]
    assert len(shown) == 10 and {3, 100, 250} <= set(shown)
    assert shown == sorted(shown, key=lambda i: -probabilities[i])  # most probable first
    assert "10 of 312" in figure.axes[1].get_title()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"targets": [1, 0]}, "one value per attribute"),
        ({"attribute_names": ["a"]}, "3 entries"),
        ({"max_attributes": 0}, "max_attributes"),
    ],
)
def test_attribute_plot_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_attribute_predictions(np.zeros((8, 8, 3)), [0.1, 0.2, 0.3], **kwargs)


def test_attribute_plot_rejects_a_non_image():
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        plot_attribute_predictions(np.zeros((8, 8)), [0.1])


def _image_files(folder, colours):
    files = []
    for colour in colours:
        files.append(os.path.join(folder, f"{colour}.png"))
        Image.new("RGB", (12, 12), colour).save(files[-1])
    return files


def test_retrieval_plot_of_a_text_query_frames_relevant_images(tmp_path):
    files = _image_files(tmp_path, ("red", "blue", "green"))
    found = {
        "query": "a red bird",
        "results": [
            {"rank": n + 1, "score": score, "image": file}
            for n, (score, file) in enumerate(zip((0.8, 0.5, -0.1), files))
        ],
    }
    path = tmp_path / "retrieval.png"
    figure = plot_retrieval(found, relevant=[True, False, True], path=path)
    assert path.is_file()
    assert figure.get_suptitle() == "query: a red bird"
    assert [axis.get_title() for axis in figure.axes] == ["#1  0.80", "#2  0.50", "#3  -0.10"]
    frames = [axis.spines["left"].get_edgecolor() for axis in figure.axes]
    assert frames == [to_rgba(RELEVANT), to_rgba(IRRELEVANT), to_rgba(RELEVANT)]
    # the images themselves, read back from the files
    assert figure.axes[1].images[0].get_array()[0, 0].tolist() == [0, 0, 255]


def test_retrieval_plot_of_an_image_query_ranks_the_texts(tmp_path):
    (query,) = _image_files(tmp_path, ("red",))
    found = {
        "query": query,
        "results": [
            {"rank": 1, "score": 0.7, "text": "a red bird"},
            {"rank": 2, "score": 0.2, "text": "a blue bird"},
        ],
    }
    figure = plot_retrieval(found)
    image_axis, bar_axis = figure.axes
    assert image_axis.get_title() == "red.png"
    labels = [label.get_text() for label in bar_axis.get_yticklabels()]
    assert labels == ["#1 a red bird", "#2 a blue bird"]
    assert [round(bar.get_width(), 2) for bar in bar_axis.patches] == [0.7, 0.2]


def test_retrieval_plot_rejects_bad_arguments(tmp_path):
    files = _image_files(tmp_path, ("red",))
    found = {"query": "q", "results": [{"rank": 1, "score": 0.5, "image": files[0]}]}
    with pytest.raises(ValueError, match="one entry per result"):
        plot_retrieval(found, relevant=[True, False])
    with pytest.raises(ValueError, match="one entry per result"):
        plot_retrieval(found, captions=[])
    with pytest.raises(ValueError, match="no results"):
        plot_retrieval({"query": "q", "results": []})
