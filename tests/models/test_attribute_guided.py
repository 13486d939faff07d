"""`attribute_guided`: the image plus a side vector known at inference time."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras
from fgkeras.evaluation.evaluator import evaluate
from fgkeras.models.attribute_guided import side_columns
from fgkeras.training.trainer import Trainer

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}
NAMES = [f"has_{part}::{color}" for part in ("crown", "wing") for color in ("red", "blue")]


def guided(**kwargs):
    return fgkeras.build(
        "attribute_guided", **{"num_classes": 2, "num_attributes": 4, **TINY, **kwargs}
    )


def film_on(model, seed=0):
    """Random FiLM/side weights, so that the side vector changes the output."""
    rng = np.random.default_rng(seed)
    for name in ("feature_modulation", "side_encoder"):
        if name in {layer.name for layer in model.layers}:
            layer = model.get_layer(name)
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in
                               layer.get_weights()])  # fmt: skip
    return model


def test_side_attributes_by_pattern_name_or_index():
    assert side_columns(["has_crown::*"], NAMES, 4) == [0, 1]
    assert side_columns("has_wing::blue", NAMES, 4) == [3]
    assert side_columns([3, 0, 3], None, 4) == [3, 0]
    assert side_columns(None, NAMES, 4) is None
    model = guided(attribute_names=NAMES, side_attributes="has_crown::*")
    assert model.side_columns == [0, 1] and model.attribute_names == NAMES


@pytest.mark.parametrize(
    "kwargs, message",
    [({"fusion": "early"}, "fusion"), ({"side_attributes": "has_tail::*", "attribute_names":
      NAMES}, "matches no attribute"), ({"side_attributes": "has_crown::red"}, "attribute_names"),
     ({"side_attributes": [7]}, "outside the 4"), ({"attribute_names": NAMES[:3]}, "one entry"),
     ({"num_attributes": 0}, "num_attributes")],
)  # fmt: skip
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        guided(**kwargs)


@pytest.mark.parametrize("fusion", ["film", "late"])
def test_images_alone_mean_nothing_known_and_read_columns_are_the_only_ones_used(fusion):
    model = film_on(guided(fusion=fusion, side_attributes=[0, 1]))
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    unknown = np.full((3, 4), np.nan, "float32")
    alone = np.asarray(model(images))
    np.testing.assert_allclose(alone, model({"image": images, "attributes": unknown}), atol=1e-6)
    np.testing.assert_allclose(alone, model.predict(images, verbose=0), atol=1e-5)
    crown = np.array([[1, 0, np.nan, np.nan]] * 3, "float32")
    with_crown = np.asarray(model({"image": images, "attributes": crown}))
    assert np.abs(with_crown - alone).max() > 1e-3  # the known entries count
    wing_too = crown.copy()
    wing_too[:, 2:] = [0, 1]
    np.testing.assert_allclose(  # entries the model does not read change nothing
        with_crown, model({"image": images, "attributes": wing_too}), atol=1e-6
    )


def test_the_side_vector_is_learned_and_evaluate_reports_with_and_without():
    """Noise images, labels given by the side vector: only the side input can help.

    The backbone is frozen so that its BatchNorm statistics, which 32 steps
    would not settle, are the same in training and evaluation.
    """
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 256)
    images = rng.uniform(0, 255, (256, 32, 32, 3)).astype("float32")
    side = np.stack([labels == 0, labels == 1, labels == 0, labels == 1], 1).astype("float32")
    model = guided(side_attributes=[0, 1], side_dropout=0.0, freeze_backbone=True)
    trainer = Trainer(model)
    trainer.compile(keras.optimizers.Adam(3e-3),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    data = tf.data.Dataset.from_tensor_slices(({"image": images, "attributes": side}, labels))
    trainer.fit(data.batch(32), epochs=4, verbose=0)
    metrics = evaluate(model, data.batch(64), class_names=["a", "b"])
    assert metrics["side_input"]["inputs"] == ["attributes"]
    assert metrics["side_input"]["with"]["top1_accuracy"] == metrics["top1_accuracy"] > 0.95
    assert metrics["side_input"]["without"]["top1_accuracy"] < 0.7


def test_train_reads_the_source_attributes_as_the_side_input(tmp_path, capsys):
    from fgkeras.cli.main import main

    run = tmp_path / "run"
    result = fgkeras.train(
        "attribute_guided", "synthetic", str(run), backbone="tiny", weights=None,
        image_size=32, epochs=1, batch_size=16, source_options={"num_examples": 32},
        model_options={"side_attributes": "has_crown_color::*"}, verbose=0,
    )  # fmt: skip
    names = fgkeras.data.synthetic.class_info(8).attribute_names
    assert result.model.attribute_names == names
    assert result.model.side_columns == [i for i, n in enumerate(names) if "crown" in n]
    assert set(result.metrics["side_input"]) == {"inputs", "with", "without"}
    assert main(["evaluate", str(run)]) == 0
    assert "side input       top-1" in capsys.readouterr().out


def test_a_source_without_attributes_is_named(tmp_path):
    from tests.image_folders import write_class_folder

    data = write_class_folder(tmp_path / "data")
    with pytest.raises(ValueError, match="attributes"):
        fgkeras.train("attribute_guided", data, str(tmp_path / "run"),
                      backbone="tiny", weights=None, image_size=32, epochs=1)  # fmt: skip


def test_export_takes_the_side_vector_in_every_image_signature(tmp_path):
    from fgkeras.serving.requests import rest_body, rest_predict
    from fgkeras.serving.samples import encode, synthetic_images
    from fgkeras.serving.savedmodel import export, read_report

    model = film_on(guided(attribute_names=NAMES))
    with pytest.raises(ValueError, match="side vector"):
        export(model, tmp_path / "lite", class_names=["a", "b"], tflite="float16")
    path = export(model, tmp_path / "m", class_names=["a", "b"], verify=True)
    assert read_report(path)["verification"]["ok"]
    assets = tmp_path / "m" / os.path.basename(path) / "assets"
    card = json.loads((assets / "model_card.json").read_text())
    assert card["export"]["side_input"]["width"] == 4
    assert (assets / "attribute_names.txt").read_text().split() == NAMES
    loaded = tf.saved_model.load(str(path))
    for name in ("serving_default", "classify_pixels", "embed", "embed_pixels"):
        inputs = loaded.signatures[name].structured_input_signature[1]
        assert inputs["attributes"].shape.as_list() == [None, 4], name
    pixels = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    row = np.array([[1, 0, np.nan, 1]], "float32")
    served = loaded.signatures["classify_pixels"](image=pixels, attributes=row)["logits"]
    expected = model({"image": pixels, "attributes": np.repeat(row, 2, 0)})  # one row: every image
    np.testing.assert_allclose(served, expected, atol=1e-4)
    png = encode(synthetic_images(2, size=(32, 32)), "png")
    body = rest_body({"image": png, "attributes": row.tolist()})  # NaN as TF Serving reads it
    status, answer = rest_predict(loaded, json.dumps(body))
    assert status == 200 and np.array(answer["outputs"]["probabilities"]).shape == (2, 2)


def test_predict_takes_one_side_vector_for_every_image(tmp_path):
    from fgkeras.inference.prediction import predict
    from fgkeras.serving.savedmodel import export

    model = film_on(guided())
    image = tmp_path / "bird.png"
    tf.io.write_file(str(image), tf.io.encode_png(np.full((32, 32, 3), 90, np.uint8)))
    known = [1.0, 0.0, float("nan"), 1.0]
    path = export(model, tmp_path / "m", class_names=["a", "b"])
    for source in (model, str(path)):
        alone = predict(source, [str(image)], class_names=["a", "b"])[0]["predictions"]
        told = predict(source, [str(image)], class_names=["a", "b"], side=known)[0]["predictions"]
        assert alone[0]["score"] != told[0]["score"]
    pixels = np.full((1, 32, 32, 3), 90.0, "float32")
    expected = keras.ops.softmax(model({"image": pixels, "attributes": np.array([known])}))
    assert told[0]["score"] == pytest.approx(float(np.max(expected)), abs=1e-4)
    with pytest.raises(ValueError, match="4 values"):
        predict(str(path), [str(image)], side=[1.0, 0.0])
    plain = fgkeras.build("baseline", num_classes=2, **TINY)
    with pytest.raises(ValueError, match="takes images only"):
        predict(plain, [str(image)], side=known)
