"""Evaluation: exact metrics on known predictions, report files, run directories."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras
import fgkeras.data
from fgkeras.evaluation import plots
from fgkeras.evaluation.evaluator import (
    evaluate,
    evaluate_run,
    metrics_from_predictions,
    most_confused_pairs,
)

NAMES = ["ant", "bee", "cicada", "dragonfly"]
# 10 examples, 4 classes; class 3 has no examples.
LABELS = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
PREDICTED = [0, 0, 1, 1, 1, 1, 0, 1, 2, 3]
SECOND = [1, 1, 0, 2, 0, 2, 1, 2, 1, 2]  # runner-up class of each example


def _scores(first=PREDICTED, second=SECOND, num_classes=4):
    scores = np.zeros((len(first), num_classes), np.float32)
    scores[np.arange(len(first)), second] = 1.0
    scores[np.arange(len(first)), first] = 2.0
    return scores


def test_metrics_exact_values():
    m = metrics_from_predictions(LABELS, _scores(), NAMES, top_k=2)
    assert m["num_examples"] == 10 and m["num_classes"] == 4
    assert m["top1_accuracy"] == pytest.approx(0.5)  # 2 + 2 + 1 correct
    # Only example 3 (true ant, ranked bee then cicada) misses the top 2.
    assert m["top_k"] == 2 and m["top_k_accuracy"] == pytest.approx(0.9)
    assert m["confusion_matrix"] == [[2, 2, 0, 0], [1, 2, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]]
    per_class = {row["name"]: row for row in m["per_class"]}
    assert per_class["ant"] == {
        "index": 0, "name": "ant", "support": 4, "correct": 2, "accuracy": 0.5,
    }  # fmt: skip
    assert per_class["bee"]["accuracy"] == pytest.approx(2 / 3)
    assert per_class["dragonfly"]["support"] == 0 and per_class["dragonfly"]["accuracy"] is None
    # Mean over the three classes that have examples.
    assert m["mean_per_class_accuracy"] == pytest.approx((0.5 + 2 / 3 + 1 / 3) / 3)
    pairs = [
        (p["true"], p["predicted"], p["count"], round(p["rate"], 4)) for p in m["most_confused"]
    ]
    assert pairs == [
        ("ant", "bee", 2, 0.5),
        ("bee", "ant", 1, 0.3333),
        ("cicada", "bee", 1, 0.3333),
        ("cicada", "dragonfly", 1, 0.3333),
    ]
    json.dumps(m)  # JSON-ready


def test_ties_break_towards_lower_index_and_top_k_is_clipped():
    m = metrics_from_predictions([1, 2], np.zeros((2, 3)), top_k=10)
    assert m["confusion_matrix"][1][0] == 1 and m["confusion_matrix"][2][0] == 1
    assert m["top1_accuracy"] == 0.0
    assert m["top_k"] == 3 and m["top_k_accuracy"] == 1.0
    # Logits and probabilities give the same metrics.
    logits = _scores()
    probs = tf.nn.softmax(logits).numpy()
    a, b = metrics_from_predictions(LABELS, logits), metrics_from_predictions(LABELS, probs)
    assert a["top1_accuracy"] == b["top1_accuracy"] and a["top_k_accuracy"] == b["top_k_accuracy"]


def test_most_confused_pairs_sort_by_count_then_rate():
    confusion = [[90, 10, 0], [0, 5, 5], [10, 0, 0]]
    pairs = most_confused_pairs(confusion, ["a", "b", "c"])
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [
        ("c", "a", 10),  # rate 1.0 beats a -> b's 0.1 at equal count
        ("a", "b", 10),
        ("b", "c", 5),
    ]
    assert most_confused_pairs(confusion, num_pairs=1)[0]["rate"] == 1.0


@pytest.mark.parametrize(
    "labels, scores, names, match",
    [
        ([0, 4], np.zeros((2, 3)), None, r"labels must be in \[0, 3\)"),
        ([0], np.zeros((2, 3)), None, "differ in length"),
        ([0, 1], [[0, np.nan, 0], [0, 0, 0]], None, "NaN"),
        ([0, 1], np.zeros((2, 3)), ["a", "b"], "2 class names for 3 classes"),
        ([0, 1], np.zeros(2), None, r"shape \[N, C\]"),
    ],
)
def test_bad_inputs_raise_value_errors(labels, scores, names, match):
    with pytest.raises(ValueError, match=match):
        metrics_from_predictions(labels, scores, names)


def _colour_model():
    """Logits = mean R, G, B of the image: the model's predictions are known."""
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))


def _colour_dataset(colours, labels, batch_size=3):
    images = np.zeros((len(colours), 8, 8, 3), np.float32)
    for i, c in enumerate(colours):
        images[i, ..., c] = 200.0
        images[i, ..., (c + 1) % 3] = 100.0  # runner-up channel
    ds = tf.data.Dataset.from_tensor_slices((images, np.asarray(labels, np.int32)))
    ds = ds.batch(batch_size)
    ds.class_names = ["red", "green", "blue"]
    return ds


def _assert_png(path):
    import matplotlib.image

    assert os.path.getsize(path) > 5000, path
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200
    assert pixels[..., :3].std() > 0.05, f"{path} looks blank"


def test_evaluate_writes_report_for_model_with_known_predictions(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text(
        "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.4,1.5,0.3,1.6\n1,0.7,0.9,0.6,1.1\n"
    )
    # Predicted colour c (runner-up c + 1) for each true label.
    ds = _colour_dataset([0, 0, 1, 1, 2, 2, 0, 1], [0, 1, 1, 1, 2, 0, 0, 0])
    m = evaluate(_colour_model(), ds, out_dir=tmp_path / "eval", top_k=2, history_csv=history)
    assert m["class_names"] == ["red", "green", "blue"]
    assert m["num_examples"] == 8
    assert m["top1_accuracy"] == pytest.approx(5 / 8)
    # Top-2 catches green->red (runner-up green) and red->blue (runner-up red),
    # not the last red->green (runner-up blue).
    assert m["top_k_accuracy"] == pytest.approx(7 / 8)
    assert m["confusion_matrix"] == [[2, 1, 1], [1, 2, 0], [0, 0, 1]]
    assert m["mean_per_class_accuracy"] == pytest.approx((2 / 4 + 2 / 3 + 1) / 3)
    assert [(p["true"], p["predicted"], p["rate"]) for p in m["most_confused"]] == [
        ("green", "red", pytest.approx(1 / 3)),
        ("red", "green", 0.25),
        ("red", "blue", 0.25),
    ]
    files = m["files"]
    assert sorted(files) == [
        "confusion_matrix", "metrics", "per_class_accuracy", "predictions", "training_curves",
    ]  # fmt: skip
    with open(files["metrics"]) as f:
        saved = json.load(f)
    assert saved["top1_accuracy"] == m["top1_accuracy"]
    assert saved["confusion_matrix"] == m["confusion_matrix"]
    arrays = np.load(files["predictions"])
    assert arrays["labels"].tolist() == [0, 1, 1, 1, 2, 0, 0, 0]
    assert arrays["scores"].shape == (8, 3)
    for key in ("confusion_matrix", "per_class_accuracy", "training_curves"):
        _assert_png(files[key])


def test_evaluate_without_out_dir_writes_nothing_and_missing_history_warns(tmp_path):
    ds = _colour_dataset([0, 1], [0, 1])
    assert "files" not in evaluate(_colour_model(), ds)
    with pytest.warns(UserWarning, match="No training curves"):
        m = evaluate(_colour_model(), ds, out_dir=tmp_path, history_csv=tmp_path / "none.csv")
    assert "training_curves" not in m["files"]


def test_evaluate_rejects_empty_and_unlabelled_datasets():
    with pytest.raises(ValueError, match="empty"):
        evaluate(_colour_model(), _colour_dataset([0], [0]).take(0))
    images = tf.data.Dataset.from_tensor_slices(np.zeros((2, 8, 8, 3), np.float32)).batch(2)
    with pytest.raises(ValueError, match=r"\(images, labels\)"):
        evaluate(_colour_model(), images)


def test_large_confusion_matrix_plot(tmp_path):
    rng = np.random.default_rng(0)
    confusion = rng.integers(0, 3, (200, 200)) + np.eye(200, dtype=int) * 20
    path = plots.plot_confusion_matrix(confusion, [f"class {i}" for i in range(200)], tmp_path)
    _assert_png(path)


def _run_dir(tmp_path, with_best=False):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    source_options = {"num_classes": 4, "num_examples": 12}
    config = {
        "model": "baseline", "source": "synthetic", "image_size": 32, "batch_size": 8,
        "val_split": "test", "resize_size": None, "source_options": source_options,
    }  # fmt: skip
    (run_dir / "config.json").write_text(json.dumps(config))
    names = fgkeras.data.load("synthetic", "test", image_size=32, **source_options).class_names
    (run_dir / "class_names.json").write_text(json.dumps(list(names)))
    (run_dir / "history.csv").write_text("epoch,accuracy,loss\n0,0.3,1.4\n1,0.5,1.2\n")
    model = fgkeras.build(
        "baseline", num_classes=4, backbone="tiny", weights=None, input_shape=(32, 32, 3)
    )
    model.save(run_dir / "model.keras")
    if with_best:
        model.save(run_dir / "best.keras")
    return run_dir


def test_evaluate_run_recreates_the_split(tmp_path):
    run_dir = _run_dir(tmp_path, with_best=True)
    m = evaluate_run(run_dir, checkpoint="best", top_k=2)
    assert m["split"] == "test" and m["checkpoint"] == "best"
    assert m["model_path"].endswith("best.keras")
    assert m["num_examples"] == 12 and m["num_classes"] == 4 and m["top_k"] == 2
    assert os.path.dirname(m["files"]["metrics"]) == str(run_dir / "eval-test-best")
    assert "training_curves" in m["files"]


def test_evaluate_run_user_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Run directory not found"):
        evaluate_run(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="No config.json"):
        evaluate_run(tmp_path)
    run_dir = _run_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="No best.keras"):
        evaluate_run(run_dir, checkpoint="best")
    with pytest.raises(ValueError, match="checkpoint` must be one of"):
        evaluate_run(run_dir, checkpoint="first")
    (run_dir / "class_names.json").write_text(json.dumps(["w", "x", "y", "z"]))
    with pytest.raises(ValueError, match="differ from those the run was trained on"):
        evaluate_run(run_dir)
