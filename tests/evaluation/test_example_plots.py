"""Figures of example images drawn by the practice tutorial: the same images under
each augmentation policy, and the misclassified images behind each confused pair."""

import matplotlib.image
import numpy as np
import pytest

from fgkeras.evaluation import example_plots
from fgkeras.evaluation.metrics import metrics_from_predictions


def _images(count=6, size=12, seed=0):
    """Grey, left-right asymmetric images (a flip always changes them)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, size=(count, size, size)).astype("float32")
    images[:, :, : size // 2] = 0.0
    return images


def _pixels(path):
    pixels = matplotlib.image.imread(path)
    assert pixels[..., :3].std() > 0.05, f"{path} looks blank"
    return pixels


def test_none_is_the_identity_and_grey_becomes_rgb():
    images = _images()
    views = example_plots.augmentation_views(images, ["none"], draws=3)
    assert views["none"].shape == (1, 6, 12, 12, 3)  # one draw: it never changes
    np.testing.assert_array_equal(views["none"][0], np.repeat(images[..., None], 3, axis=-1))


def test_light_flips_some_images_and_leaves_the_others():
    images = _images(count=16)
    rgb = np.repeat(images[..., None], 3, axis=-1)
    (draw,) = example_plots.augmentation_views(images, "light", draws=1, seed=1)["light"]
    same = np.all(draw == rgb, axis=(1, 2, 3))
    mirrored = np.all(draw == rgb[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored)  # a flip and nothing else
    assert same.any() and mirrored.any()


def test_draws_differ_and_a_seed_repeats_them():
    images = _images(count=8)
    first = example_plots.augmentation_views(images, ["fgvc", "strong"], draws=2, seed=3)
    again = example_plots.augmentation_views(images, ["fgvc", "strong"], draws=2, seed=3)
    for policy in ("fgvc", "strong"):
        view = first[policy]
        assert view.shape == (2, 8, 12, 12, 3) and view.dtype == np.float32
        assert 0.0 <= view.min() and view.max() <= 255.0
        assert np.abs(view[0] - view[1]).max() > 1.0  # two random draws
        np.testing.assert_array_equal(view, again[policy])
    assert list(first) == ["fgvc", "strong"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policies": ["light", "heavy"]}, r"policies.*'heavy'"),
        ({"policies": []}, "non-empty"),
        ({"draws": 0}, "draws=0"),
    ],
)
def test_augmentation_views_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        example_plots.augmentation_views(_images(), **kwargs)


def test_augmentation_views_reject_a_single_image():
    with pytest.raises(ValueError, match=r"shape \(12, 12, 12, 2\)"):
        example_plots.augmentation_views(np.zeros((12, 12, 12, 2)))


def test_confused_examples_follow_the_most_confused_pairs():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 0])
    predictions = np.array([1, 1, 0, 1, 0, 0, 0, 0, 2, 1])
    pairs = metrics_from_predictions(labels, np.eye(3)[predictions])["most_confused"]
    assert [(p["true_index"], p["predicted_index"], p["count"]) for p in pairs] == [
        (0, 1, 3),
        (2, 0, 3),
        (1, 0, 1),
    ]
    found = example_plots.confused_examples(labels, predictions, pairs, per_pair=2)
    assert [indices.tolist() for indices in found] == [[0, 1], [5, 6], [4]]
    assert example_plots.confused_examples(labels, predictions, [(2, 1)])[0].size == 0


@pytest.mark.parametrize(
    ("labels", "predictions", "pairs", "message"),
    [
        ([0, 1], [0], [(0, 1)], "one prediction per label"),
        ([0.5, 1], [0, 1], [(0, 1)], "class indices"),
        ([0, 1], [0, -1], [(0, 1)], "class indices"),
        ([0, 1], [1, 0], [(0, 1, 2)], "pair must be"),
        ([0, 1], [1, 0], [{"true": "a"}], "pair must be"),
    ],
)
def test_confused_examples_reject_bad_input(labels, predictions, pairs, message):
    with pytest.raises(ValueError, match=message):
        example_plots.confused_examples(labels, predictions, pairs)


def test_augmentation_grid_has_a_row_per_policy_and_draw(tmp_path):
    images = _images(count=4)
    path = example_plots.plot_augmentations(
        images, ["a", "b", "c", "d"], ["none", "light", "fgvc"], draws=2, path=tmp_path
    )
    assert path.endswith("augmentations.png")
    height, width = _pixels(path).shape[:2]
    assert height > width  # 5 rows (none, light x2, fgvc x2) of 4 images
    one_draw = example_plots.plot_augmentations(
        images, policies=["none", "light", "fgvc"], draws=1, path=tmp_path / "one.png"
    )
    assert matplotlib.image.imread(one_draw).shape[0] < 0.75 * height


def test_augmentation_grid_rejects_too_many_images_or_titles(tmp_path):
    with pytest.raises(ValueError, match="at most 12 images"):
        example_plots.plot_augmentations(_images(count=13), path=tmp_path)
    with pytest.raises(ValueError, match=r"one title per image \(4\)"):
        example_plots.plot_augmentations(_images(count=4), ["a"], path=tmp_path)


def test_confused_pairs_grid_picks_the_worst_pairs_by_default(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    predictions = labels.copy()
    predictions[:4] = 3  # 0 -> 3, four times
    predictions[10:12] = 2  # 1 -> 2, twice
    probabilities = rng.dirichlet(np.ones(4), size=len(labels))
    images = _images(count=len(labels))
    names = ["T-shirt/top", "Pullover", "Coat", "Shirt"]
    path = example_plots.plot_confused_pairs(
        images, labels, predictions, names, per_pair=3, probabilities=probabilities, path=tmp_path
    )
    assert path.endswith("confused_pairs.png")
    height, width = _pixels(path).shape[:2]
    one = example_plots.plot_confused_pairs(
        images, labels, predictions, names, pairs=[(0, 3)], per_pair=3, path=tmp_path / "1.png"
    )
    one_height, one_width = matplotlib.image.imread(one).shape[:2]
    assert one_width == width  # 2 references + 3 mistakes wide in both
    assert height > 1.7 * one_height  # two pairs drawn by default, one given


def test_confused_pairs_grid_rejects_bad_input(tmp_path):
    images, labels = _images(count=4), np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="no mistakes"):
        example_plots.plot_confused_pairs(images, labels, labels, path=tmp_path)
    wrong = np.array([1, 0, 1, 0])
    with pytest.raises(ValueError, match="one image per label"):
        example_plots.plot_confused_pairs(images[:3], labels, wrong, path=tmp_path)
    with pytest.raises(ValueError, match="name all 2 classes"):
        example_plots.plot_confused_pairs(images, labels, wrong, ["a"], path=tmp_path)
    with pytest.raises(ValueError, match=r"probabilities.*\(4,\)"):
        example_plots.plot_confused_pairs(
            images, labels, wrong, probabilities=np.ones(4), path=tmp_path
        )
    with pytest.raises(ValueError, match="outside the 2 classes"):
        example_plots.plot_confused_pairs(images, labels, wrong, pairs=[(0, 5)], path=tmp_path)
