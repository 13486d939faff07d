"""`fgkeras.evaluation.curves`: the generalization gap and runs' curves side by side."""

import csv

import matplotlib.image
import numpy as np
import pytest

from fgkeras.evaluation.curves import as_history, generalization_gap, plot_curve_comparison

OVERFIT = {"loss": [1.2, 0.6, 0.2], "val_loss": [1.3, 1.0, 1.4],
           "accuracy": [0.4, 0.8, 0.95], "val_accuracy": [0.35, 0.6, 0.55]}  # fmt: skip
REGULARISED = {"loss": [1.3, 0.9, 0.7], "val_loss": [1.3, 1.0, 0.9],
               "accuracy": [0.35, 0.6, 0.7], "val_accuracy": [0.35, 0.6, 0.66]}  # fmt: skip


def test_generalization_gap_values():
    gap = generalization_gap(OVERFIT)
    assert gap["train"] == 0.95 and gap["validation"] == 0.55
    assert gap["gap"] == pytest.approx(0.40)
    assert gap["best_epoch"] == 2 and gap["best_validation"] == 0.6
    loss = generalization_gap(OVERFIT, "loss")  # validation minus training for a loss
    assert loss["gap"] == pytest.approx(1.2) and loss["best_epoch"] == 2
    assert generalization_gap(REGULARISED)["gap"] == pytest.approx(0.04)


def test_histories_from_a_run_directory_and_a_keras_history(tmp_path):
    with open(tmp_path / "history.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "accuracy", "val_accuracy"])
        writer.writerows([[0, 0.5, 0.4], [1, 0.9, 0.6]])
    from_dir = as_history(tmp_path)
    assert sorted(from_dir) == ["accuracy", "val_accuracy"]
    assert from_dir["val_accuracy"].tolist() == [0.4, 0.6]
    assert generalization_gap(tmp_path / "history.csv")["gap"] == pytest.approx(0.3)

    class History:  # what keras' fit returns
        history = {"accuracy": [0.5], "val_accuracy": [0.5]}

    assert generalization_gap(History())["gap"] == 0.0


def test_curve_comparison_draws_one_panel_per_run_and_metric(tmp_path):
    path = plot_curve_comparison(
        {"no regularisation": OVERFIT, "augmentation": REGULARISED},
        metrics=("loss", "accuracy"),
        path=tmp_path / "sub" / "curves.png",
    )
    pixels = matplotlib.image.imread(path)
    assert pixels[..., :3].std() > 0.05
    single = plot_curve_comparison([OVERFIT], path=tmp_path)  # one run, one metric
    assert single.endswith("curve_comparison.png")
    one_height, one_width = matplotlib.image.imread(single).shape[:2]
    height, width = pixels.shape[:2]
    assert width == pytest.approx(2 * one_width, rel=0.02)  # a column per run
    assert height == pytest.approx(2 * one_height, rel=0.02)  # a row per metric


def test_bad_histories_are_named(tmp_path):
    with pytest.raises(ValueError, match="no 'f1' with its 'val_f1'"):
        generalization_gap(OVERFIT, "f1")
    with pytest.raises(ValueError, match="one value per epoch"):
        generalization_gap({"accuracy": [0.5, 0.6], "val_accuracy": [0.5]})
    with pytest.raises(ValueError, match="non-empty dict"):
        as_history([0.5, 0.6])
    with pytest.raises(FileNotFoundError):
        as_history(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="one label per history"):
        plot_curve_comparison([OVERFIT, REGULARISED], labels=["one"], path=tmp_path)
    with pytest.raises(ValueError, match="empty"):
        plot_curve_comparison([], path=tmp_path)
    assert np.isfinite(generalization_gap(REGULARISED)["gap"])
