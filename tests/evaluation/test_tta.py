"""Test-time augmentation (``tta="flip"``): the mean softmax of an image and its mirror,
checked against NumPy, in `evaluate`, `evaluate_run`, `fgkeras evaluate` and `predict`."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras
import fgkeras.data
from fgkeras.cli.evaluate import format_report
from fgkeras.cli.main import main
from fgkeras.evaluation.evaluator import evaluate, evaluate_run
from fgkeras.evaluation.metrics import metrics_from_predictions
from fgkeras.inference.prediction import load_predictor, predict
from fgkeras.models.tta import check_tta, tta_probabilities

SIZE = 16
CLASSES = 4


def softmax(logits):
    logits = np.asarray(logits, np.float64)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def numpy_tta(predict_fn, images):
    """The mean of the softmax of the images and of their mirrors (width flipped in NumPy)."""
    return (softmax(predict_fn(images)) + softmax(predict_fn(images[:, :, ::-1]))) / 2


def asymmetric_model(seed=0):
    """A tiny backbone with random weights and a flattened (position-aware) head: its
    logits change a lot when the image is mirrored."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs / 255.0)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES, name="predictions")(x * 10.0))


def images(count=12, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (count, SIZE, SIZE, 3)).astype("float32")


def dataset(x, labels, batch=5):
    return tf.data.Dataset.from_tensor_slices((x, labels)).batch(batch)


def test_tta_probabilities_are_the_numpy_mean_of_the_two_softmaxes():
    model, x = asymmetric_model(), images()
    single = softmax(model.predict(x, verbose=0))
    want = numpy_tta(lambda batch: model.predict(batch, verbose=0), x)
    got = keras.ops.convert_to_numpy(tta_probabilities(model, x, "flip"))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.abs(want - single).max() > 0.05  # the mirror matters for this model
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(tta_probabilities(model, x, None)), single, atol=1e-6
    )


def test_evaluate_keeps_single_view_numbers_and_adds_a_tta_block():
    model, x = asymmetric_model(), images(40)
    labels = np.arange(40) % CLASSES
    names = ["a", "b", "c", "d"]
    plain = evaluate(model, dataset(x, labels), names, top_k=2)
    with_tta = evaluate(model, dataset(x, labels), names, top_k=2, tta="flip")
    tta = with_tta.pop("tta")
    assert with_tta == plain  # every single-view number unchanged
    want = metrics_from_predictions(
        labels, numpy_tta(lambda b: model.predict(b, verbose=0), x), names, top_k=2
    )
    assert tta == {
        "mode": "flip",
        "top1_accuracy": want["top1_accuracy"],
        "top_k": 2,
        "top_k_accuracy": want["top_k_accuracy"],
        "mean_per_class_accuracy": want["mean_per_class_accuracy"],
    }
    assert "tta" not in plain
    report = format_report({**plain, "tta": tta})
    assert f"tta (flip)       top-1 {tta['top1_accuracy']:.1%}  top-2 " in report
    assert f"top-1            {plain['top1_accuracy']:.1%}" in report  # its own line


def test_only_the_image_is_mirrored_for_a_side_input_model():
    keras.utils.set_random_seed(0)
    model = fgkeras.build(
        "attribute_guided",
        num_classes=CLASSES,
        backbone="tiny",
        weights=None,
        input_shape=(SIZE, SIZE, 3),
        num_attributes=3,
        side_dropout=0.0,
    )
    x = images(6)
    side = np.random.default_rng(2).uniform(0, 1, (6, 3)).astype("float32")
    side[0, 1] = np.nan

    def logits(batch):
        return model.predict({"image": batch, "attributes": side}, verbose=0)

    want = numpy_tta(logits, x)
    got = tta_probabilities(model, {"image": x, "attributes": side}, "flip")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, atol=1e-5)
    labels = np.arange(6) % CLASSES
    data = tf.data.Dataset.from_tensor_slices(({"image": x, "attributes": side}, labels)).batch(4)
    found = evaluate(model, data, top_k=1, tta="flip")["tta"]
    assert found["top1_accuracy"] == pytest.approx(np.mean(want.argmax(1) == labels))


@pytest.fixture
def run_dir(tmp_path):
    """A run directory (no training): the asymmetric model on 8 synthetic images."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    options = {"num_classes": CLASSES, "num_examples": 8}
    config = {"source": "synthetic", "image_size": SIZE, "batch_size": 4, "source_options": options}
    (run_dir / "config.json").write_text(json.dumps(config))
    data = fgkeras.data.load("synthetic", "test", image_size=SIZE, batch_size=4, **options)
    (run_dir / "class_names.json").write_text(json.dumps(list(data.class_names)))
    asymmetric_model().save(run_dir / "model.keras")
    return run_dir, data


def test_evaluate_run_and_the_command_line(run_dir, capsys):
    path, data = run_dir
    model = keras.models.load_model(path / "model.keras")
    x = np.concatenate([np.asarray(batch) for batch, _ in data])
    labels = np.concatenate([np.asarray(y) for _, y in data])
    want = numpy_tta(lambda b: model.predict(b, verbose=0), x)
    metrics = evaluate_run(str(path), top_k=2, tta="flip")
    assert metrics["tta"]["top1_accuracy"] == pytest.approx(np.mean(want.argmax(1) == labels))
    saved = json.loads((path / "eval-test-final" / "metrics.json").read_text())
    assert saved["tta"] == metrics["tta"] and saved["top1_accuracy"] == metrics["top1_accuracy"]
    assert main(["evaluate", str(path), "--tta", "flip"]) == 0
    assert "\ntta (flip)       top-1 " in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:  # argparse refuses it, naming the choices
        main(["evaluate", str(path), "--tta", "flips"])
    assert stopped.value.code == 2
    assert "argument --tta: invalid choice: 'flips'" in capsys.readouterr().err


def test_predict_with_a_keras_model_averages_the_mirror(run_dir, tmp_path):
    path, _ = run_dir
    model = keras.models.load_model(path / "model.keras")
    pictures = images(3, seed=5).astype(np.uint8)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, picture in enumerate(pictures):
        tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(picture))
    want = numpy_tta(lambda b: model.predict(b, verbose=0), pictures.astype("float32"))
    for source in (str(path), str(path / "model.keras")):
        results = predict(source, [str(folder)], top_k=CLASSES, tta="flip")
        for row, result in zip(want, results):
            scores = {p["index"]: p["score"] for p in result["predictions"]}
            np.testing.assert_allclose([scores[i] for i in range(CLASSES)], row, atol=2e-6)
    assert load_predictor(str(path), tta="flip").tta == "flip"


@pytest.mark.parametrize(
    "call",
    [
        lambda: check_tta("hflip"),
        lambda: evaluate(asymmetric_model(), dataset(images(2), [0, 1]), tta="mirror"),
        lambda: evaluate_run("/no/such/run", tta=True),
        lambda: load_predictor(asymmetric_model(), tta="flip+crop"),
        lambda: predict(asymmetric_model(), ["/no/such.png"], tta="FLIP"),
        lambda: fgkeras.export(asymmetric_model(), "/tmp/never-written", tta="ten_crop"),
    ],
    ids=["check", "evaluate", "evaluate_run", "load_predictor", "predict", "export"],
)
def test_bad_tta_values_name_the_allowed_ones(call):
    with pytest.raises(ValueError, match=r"`tta` must be None or one of \('flip',\)\. Received"):
        call()
