"""Figures of `fgkeras.evaluation.plots` drawn by the foundations tutorial: confusion
matrices side by side and a grid of feature maps."""

import matplotlib.image
import numpy as np
import pytest

from fgkeras.evaluation import plots


def _pixels(path):
    pixels = matplotlib.image.imread(path)
    assert pixels[..., :3].std() > 0.05, f"{path} looks blank"
    return pixels


def test_confusion_matrices_side_by_side_with_different_sizes(tmp_path):
    full = np.eye(10, dtype=int) * 20 + 1
    tops = [[30, 5, 2, 13], [4, 25, 15, 6], [1, 12, 30, 7], [12, 8, 6, 24]]
    path = plots.plot_confusion_matrices(
        [full, tops],
        [[f"class {i}" for i in range(10)], ["T-shirt/top", "Pullover", "Coat", "Shirt"]],
        titles=["all 10 classes", "tops only"],
        path=tmp_path / "new folder" / "both.png",
    )
    assert path.endswith("both.png")
    height, width = _pixels(path).shape[:2]
    assert width > 1.8 * height  # two square panels next to each other


def test_confusion_matrices_reject_mismatched_arguments(tmp_path):
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrices([np.zeros((2, 3))], path=tmp_path)
    with pytest.raises(ValueError, match="one title per matrix"):
        plots.plot_confusion_matrices([np.eye(2), np.eye(3)], titles=["only one"], path=tmp_path)


def test_single_confusion_matrix_unchanged_by_the_shared_drawing(tmp_path):
    path = plots.plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"], tmp_path)
    height, width = _pixels(path).shape[:2]
    assert 1.0 < width / height < 1.6  # one matrix and its colour bar


def test_feature_maps_grid_has_a_row_per_layer_and_the_image(tmp_path):
    rng = np.random.default_rng(0)
    maps = {"stage1": rng.random((1, 28, 28, 32)), "stage2": rng.random((14, 14, 64))}
    image = rng.integers(0, 256, (28, 28, 1))
    path = plots.plot_feature_maps(maps, image, max_channels=6, path=tmp_path)
    assert path.endswith("feature_maps.png")
    height, width = _pixels(path).shape[:2]
    assert width > 2.5 * height  # 2 rows, 1 + 6 columns
    fewer = plots.plot_feature_maps(maps, max_channels=2, path=tmp_path / "two.png")
    assert matplotlib.image.imread(fewer).shape[1] < width


def test_feature_maps_reject_a_batch(tmp_path):
    with pytest.raises(ValueError, match=r"one image's maps.*\(2, 4, 4, 3\)"):
        plots.plot_feature_maps({"conv": np.zeros((2, 4, 4, 3))}, path=tmp_path)
