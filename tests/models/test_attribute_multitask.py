"""attribute_multitask: class + balanced attribute loss, trained from the data's attributes."""

import json

import keras
import numpy as np
import pytest

import fgkeras
from fgkeras.cli.main import main
from fgkeras.data import synthetic
from tests.image_folders import write_class_folder
from tests.test_losses import reference_balanced_bce

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}


def test_train_losses_are_the_class_ce_plus_lambda_times_the_balanced_bce():
    keras.utils.set_random_seed(0)
    rates = [0.5, 0.2, 0.9, 0.05]
    model = fgkeras.build("attribute_multitask", num_classes=3, num_attributes=4,
                          attribute_rates=rates, attribute_weight=0.5, **TINY)  # fmt: skip
    rng = np.random.default_rng(0)
    x = {
        "image": rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32"),
        "attributes": (rng.uniform(size=(4, 4)) < 0.4).astype("float32"),
    }
    y = np.array([0, 1, 2, 1])
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    terms, logits = model.train_losses(x, y, None, lambda z: cross_entropy(y, z))
    # The same forward pass (training mode: batch statistics), read back by name.
    out = model.run(x["image"], training=True)
    z = np.asarray(out["logits"], np.float64)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    want_ce = -log_softmax[np.arange(4), y].mean()
    want_bce = reference_balanced_bce(x["attributes"], out["attribute_logits"], rates)
    assert float(terms["class_loss"]) == pytest.approx(want_ce, rel=1e-4)
    assert float(terms["attribute_loss"]) == pytest.approx(want_bce, rel=1e-4)
    assert float(terms["loss"]) == pytest.approx(want_ce + 0.5 * want_bce, rel=1e-4)


def test_images_without_attributes_and_bad_options_are_refused():
    model = fgkeras.build("attribute_multitask", num_classes=3, num_attributes=4, **TINY)
    with pytest.raises(ValueError, match="features=\\('attributes',\\)"):
        model.train_losses(np.zeros((2, 32, 32, 3), "float32"), np.zeros(2), None, None)
    with pytest.raises(ValueError, match="one entry per attribute \\(4\\)"):
        fgkeras.build("attribute_multitask", num_classes=3, num_attributes=4,
                      attribute_names=["a", "b"], **TINY)  # fmt: skip


def test_trained_from_the_source_evaluated_with_attribute_map(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "attribute_multitask", "--source", "synthetic", "--backbone", "tiny",
                 "--weights", "none", "--image-size", "32", "--epochs", "1", "--limit", "64",
                 "--batch-size", "16", "--source-options", '{"num_examples": 64}',
                 "--run-dir", str(run), "--verbose", "0"]) == 0  # fmt: skip
    model = keras.models.load_model(run / "model.keras")
    info = synthetic.class_info(8)
    assert model.attribute_names == info.attribute_names
    np.testing.assert_allclose(model.attribute_rates, info.attributes.mean(axis=0))
    history = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"class_loss", "attribute_loss"} <= set(history)
    metrics = json.loads((run / "metrics.json").read_text())["attributes"]
    assert metrics["num_attributes"] == 6 and 0.0 <= metrics["mean_average_precision"] <= 1.0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--out-dir", str(tmp_path / "eval")]) == 0
    text = capsys.readouterr().out
    assert "attributes       mAP" in text and "(6 attributes" in text
    again = json.loads((tmp_path / "eval" / "metrics.json").read_text())["attributes"]
    assert again["mean_average_precision"] == pytest.approx(metrics["mean_average_precision"])


def test_a_source_without_attributes_is_named(tmp_path):
    write_class_folder(tmp_path / "data")
    with pytest.raises(ValueError, match="'attributes'"):
        fgkeras.train("attribute_multitask", str(tmp_path / "data"), val_split=None,
                      run_dir=str(tmp_path / "r"), backbone="tiny", weights=None, image_size=32,
                      epochs=1, verbose=0)  # fmt: skip


def test_export_serves_attribute_probabilities_with_their_names(tmp_path):
    import tensorflow as tf

    from fgkeras.serving.samples import encode, synthetic_images
    from fgkeras.serving.savedmodel import export, read_report

    names = [f"has_part::{c}" for c in "abcd"]
    model = fgkeras.build("attribute_multitask", num_classes=3, attribute_names=names, **TINY)
    path = export(model, tmp_path / "m", class_names=["x", "y", "z"], verify=True)
    report = read_report(path)["verification"]
    assert report["ok"] and report["checks"]["attributes"]["ok"]
    assert (tmp_path / "m" / "1" / "assets" / "attribute_names.txt").read_text().split() == names
    png = encode(synthetic_images(2, size=(32, 32)), "png")
    served = tf.saved_model.load(path).signatures["serving_default"](image=tf.constant(png))
    assert served["attribute_probabilities"].shape == (2, 4)
