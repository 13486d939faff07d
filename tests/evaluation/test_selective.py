"""Selective prediction (`fgkeras.evaluation.selective`): thresholds, coverage, the curve."""

import matplotlib.image
import numpy as np
import pytest

from fgkeras.evaluation.selective import (
    confidences,
    coverage_at_threshold,
    plot_selective_curve,
    selective_curve,
    threshold_for_accuracy,
)

# Six examples; top probabilities 0.95, 0.9, 0.8, 0.8, 0.6, 0.5; the 3rd and 5th are wrong.
LABELS = [0, 1, 2, 0, 1, 2]
PROBABILITIES = [
    [0.95, 0.05, 0.0],
    [0.05, 0.9, 0.05],
    [0.8, 0.1, 0.1],  # wrong (true 2)
    [0.8, 0.2, 0.0],
    [0.6, 0.3, 0.1],  # wrong (true 1)
    [0.25, 0.25, 0.5],
]


def test_coverage_at_threshold_counts_accepted_and_routed():
    found = coverage_at_threshold(LABELS, PROBABILITIES, 0.8)  # ties at 0.8 are accepted
    assert (found["accepted"], found["routed"]) == (4, 2)
    assert found["coverage"] == pytest.approx(4 / 6)
    assert found["routed_share"] == pytest.approx(2 / 6)
    assert found["accuracy_accepted"] == pytest.approx(3 / 4)
    assert found["accuracy_routed"] == pytest.approx(1 / 2)
    assert found["accuracy_all"] == pytest.approx(4 / 6)
    everything = coverage_at_threshold(LABELS, PROBABILITIES, 0.0)
    assert everything["coverage"] == 1.0 and everything["accuracy_routed"] is None
    nothing = coverage_at_threshold(LABELS, PROBABILITIES, 1.0)
    assert nothing["accepted"] == 0 and nothing["accuracy_accepted"] is None


def test_curve_matches_a_loop_over_thresholds():
    curve = selective_curve(LABELS, PROBABILITIES)
    np.testing.assert_allclose(curve["threshold"], [0.95, 0.9, 0.8, 0.6, 0.5])
    np.testing.assert_allclose(curve["coverage"], [1 / 6, 2 / 6, 4 / 6, 5 / 6, 1.0])
    for t, coverage, accuracy in zip(curve["threshold"], curve["coverage"], curve["accuracy"]):
        point = coverage_at_threshold(LABELS, PROBABILITIES, t)
        assert point["coverage"] == pytest.approx(coverage)
        assert point["accuracy_accepted"] == pytest.approx(accuracy)
    np.testing.assert_allclose(curve["routed_share"], 1 - curve["coverage"])


def test_curve_on_random_data_against_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 5)) * 2
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 5, 300)
    curve = selective_curve(labels, probabilities)
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    for i in (0, 50, 150, 299):
        t = curve["threshold"][i]
        keep = confidence >= t
        assert curve["coverage"][i] == pytest.approx(keep.mean())
        assert curve["accuracy"][i] == pytest.approx(correct[keep].mean())


def test_threshold_for_accuracy_takes_the_largest_coverage():
    found = threshold_for_accuracy(LABELS, PROBABILITIES, 0.75)
    assert found["threshold"] == 0.8 and found["coverage"] == pytest.approx(4 / 6)
    assert threshold_for_accuracy(LABELS, PROBABILITIES, 0.6)["coverage"] == 1.0
    assert threshold_for_accuracy(LABELS, PROBABILITIES, 1.0)["threshold"] == 0.9
    wrong_first = [[0.9, 0.1], [0.4, 0.6]]
    with pytest.raises(ValueError, match="No confidence threshold reaches an accuracy of 1.0"):
        threshold_for_accuracy([1, 0], wrong_first, 1.0)


@pytest.mark.parametrize(
    "labels, probabilities, threshold, match",
    [
        ([0], [[2.0, -1.0]], 0.5, "not logits"),
        ([0], [[0.5, 0.2]], 0.5, "rows summing to 1"),
        ([0, 1], [[0.5, 0.5]], 0.5, "differ in length"),
        ([3], [[0.5, 0.5]], 0.5, "labels must be integers in \\[0, 2\\)"),
        ([0], [0.5, 0.5], 0.5, "shape \\[N, C\\]"),
        ([0], [[0.5, 0.5]], 1.5, "threshold=1.5"),
        ([0], [[np.nan, 0.5]], 0.5, "NaN"),
    ],
)
def test_bad_inputs_are_named(labels, probabilities, threshold, match):
    with pytest.raises(ValueError, match=match):
        coverage_at_threshold(labels, probabilities, threshold)


def test_quantized_probabilities_are_accepted():
    # int8 TFLite outputs come in steps of 1/256: rows sum to 1 only roughly.
    assert confidences([[0.5, 0.25, 0.24609375]]).tolist() == [0.5]
    with pytest.raises(ValueError, match="target_accuracy"):
        threshold_for_accuracy(LABELS, PROBABILITIES, 0.0)


def test_plot_draws_every_curve(tmp_path):
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet(np.ones(4), size=200)
    labels = rng.integers(0, 4, 200)
    path = plot_selective_curve(
        {"a": (labels, probabilities), "b": (labels, probabilities[:, ::-1])},
        path=tmp_path / "curves",
        thresholds=[0.5],
        title="two models",
    )
    assert path.endswith("selective_curve.png")
    pixels = matplotlib.image.imread(path)
    assert pixels[..., :3].std() > 0.05
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_selective_curve([], tmp_path)
