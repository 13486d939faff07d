"""Few-shot episodes: separable clusters, chance level, seeds, class filters, a tiny model."""

import numpy as np
import pytest

import fgkeras
from fgkeras.evaluation.few_shot import evaluate_few_shot, few_shot_episodes, resolve_classes


def _clusters(num_classes=8, per_class=20, dim=16, spread=0.1, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(num_classes, dim))
    labels = np.repeat(np.arange(num_classes), per_class)
    return centres[labels] + spread * rng.normal(size=(len(labels), dim)), labels


def test_separated_clusters_are_classified_perfectly():
    x, labels = _clusters()
    r = few_shot_episodes(x, labels, ways=5, shots=1, queries=10, episodes=100)
    assert r["accuracy"] == 1.0 and r["std"] == 0.0 and r["ci95"] == 0.0
    assert r["num_classes"] == 8 and r["skipped_classes"] == []
    assert {k: r[k] for k in ("ways", "shots", "queries", "episodes", "seed")} == {
        "ways": 5, "shots": 1, "queries": 10, "episodes": 100, "seed": 0,
    }  # fmt: skip


def test_random_labels_give_chance_accuracy_within_the_interval():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 16))
    labels = rng.integers(0, 10, 400)
    r = few_shot_episodes(x, labels, ways=4, shots=5, queries=10, episodes=400, seed=1)
    assert r["ci95"] == pytest.approx(1.96 * r["std"] / np.sqrt(400))
    assert abs(r["accuracy"] - 0.25) < 3 * r["ci95"]
    assert 0.005 < r["ci95"] < 0.05


def test_same_seed_same_episodes_other_seed_other_episodes():
    x, labels = _clusters(spread=1.5)  # overlapping: accuracy depends on the draw
    a = few_shot_episodes(x, labels, 5, 1, 5, 50, seed=7)
    b = few_shot_episodes(x, labels, 5, 1, 5, 50, seed=7)
    c = few_shot_episodes(x, labels, 5, 1, 5, 50, seed=8)
    assert a == b and (a["accuracy"], a["std"]) != (c["accuracy"], c["std"])


def test_more_shots_help_on_noisy_clusters():
    x, labels = _clusters(spread=1.0)
    one = few_shot_episodes(x, labels, 5, 1, 5, 200)["accuracy"]
    five = few_shot_episodes(x, labels, 5, 5, 5, 200)["accuracy"]
    assert five > one


def test_classes_restrict_the_draw():
    x, labels = _clusters()
    x[labels >= 4] = 1.0  # classes 4-7 are indistinguishable
    assert few_shot_episodes(x, labels, 4, 1, 5, 30, classes=[0, 1, 2, 3])["accuracy"] == 1.0
    hard = few_shot_episodes(x, labels, 4, 1, 5, 30, classes=[4, 5, 6, 7])
    assert hard["accuracy"] < 0.5 and hard["num_classes"] == 4


def test_small_classes_are_left_out_with_a_message_then_too_few_is_an_error():
    x, labels = _clusters(num_classes=4, per_class=6)
    labels[labels == 3] = 2  # class 3 gone, class 2 has 12 images
    labels[:4] = 1  # class 0 keeps 2 images
    with pytest.warns(UserWarning, match=r"1 of 3 classes have fewer than .* = 6 images.*\['a'\]"):
        r = few_shot_episodes(x, labels, 2, 1, 5, 5, class_names=["a", "b", "c", "d"])
    assert r["skipped_classes"] == ["a"] and r["num_classes"] == 2
    with pytest.raises(ValueError, match=r"3-way episodes need 3 classes .* only 2 of 3 classes"):
        with pytest.warns(UserWarning):
            few_shot_episodes(x, labels, 3, 1, 5, 5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ways": 1}, "ways=1"),
        ({"shots": 0}, "shots=0"),
        ({"episodes": 2.5}, "episodes=2.5"),
        ({"classes": [0, 99]}, "have no images"),
    ],
)
def test_bad_arguments(kwargs, match):
    x, labels = _clusters()
    args = {"ways": 3, "shots": 1, "queries": 2, "episodes": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        few_shot_episodes(x, labels, **args)


def test_resolve_classes_names_indices_and_errors():
    names = ["red bird", "blue bird", "7"]
    assert resolve_classes(["blue bird", 0], names) == [0, 1]
    assert resolve_classes(["7", "1"], names) == [1, 2]  # a name first, then an index
    with pytest.raises(ValueError, match=r"Unknown class 'blue brid'.*'blue bird'"):
        resolve_classes(["blue brid"], names)
    with pytest.raises(ValueError, match="Unknown class 5"):
        resolve_classes([5], names)


def test_evaluate_few_shot_end_to_end_on_a_tiny_model():
    model = fgkeras.build(
        "baseline", num_classes=4, backbone="tiny", weights=None, input_shape=(16, 16, 3)
    )
    data = {"num_classes": 4, "num_examples": 24}
    results = evaluate_few_shot(
        model, "synthetic", ways=3, shots=[1, 2], queries=3, episodes=20, batch_size=7, **data
    )
    assert [r["shots"] for r in results] == [1, 2]
    for r in results:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["ci95"] < 1.0
        assert r["num_images"] == 24 and r["num_classes"] == 4
        assert r["embedding_layer"] == "pooler" and r["source"] == "synthetic"
        assert r["split"] == "test" and r["episodes"] == 20
    names = fgkeras.data.load("synthetic", "test", image_size=16, **data).class_names
    one = evaluate_few_shot(
        model, "synthetic", ways=2, shots=1, queries=2, episodes=5, classes=[names[1], 3], **data
    )
    assert isinstance(one, dict) and one["num_images"] == 12 and one["num_classes"] == 2
    with pytest.raises(ValueError, match="only 2 of 2 classes"):
        evaluate_few_shot(model, "synthetic", 3, 1, 2, 5, classes=[0, 1], **data)
