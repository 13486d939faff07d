"""``export(..., tta="flip")``: the signatures average an image and its mirror in the graph,
and agree with the Keras model's two views averaged in NumPy; predict follows the export."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from export_helpers import CLASS_NAMES, SIZE, build, png_and_jpeg

from fgkeras.inference.prediction import load_predictor, predict
from fgkeras.serving import tflite
from fgkeras.serving.preprocess import resize_for_eval
from fgkeras.serving.samples import decode_with_pil
from fgkeras.serving.savedmodel import export, read_report
from fgkeras.serving.signatures import ServingFunctions
from fgkeras.serving.verify import verify_saved_model


def softmax(logits):
    logits = np.asarray(logits, np.float64)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def keras_tta(model, pixels, **side):
    """The mean softmax of the Keras model on the pixels and on their NumPy mirror."""

    def logits(batch):
        return model.predict({"image": batch, **side} if side else batch, verbose=0)

    return (softmax(logits(pixels)) + softmax(logits(pixels[:, :, ::-1]))) / 2


def asymmetric_classifier(seed=0):
    """A zoo-shaped model (input "image", layer "predictions") whose flattened head makes
    its logits change a lot under a mirror."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs / 255.0)
    x = keras.layers.Flatten(name="pooler")(x)
    return keras.Model(inputs, keras.layers.Dense(5, name="predictions")(x * 10.0), name="asym")


def pixels_of(encoded):
    return np.stack([resize_for_eval(decode_with_pil(data), SIZE).numpy() for data in encoded])


@pytest.fixture(scope="module")
def tta_export(tmp_path_factory):
    """The asymmetric model exported with tta="flip", verified, with a float32 TFLite file."""
    model = asymmetric_classifier()
    # PNG only: this deliberately pixel-sensitive model turns JPEG decoders' grey-level
    # differences into more than verify's JPEG tolerance, TTA or not.
    png, _, _ = png_and_jpeg(count=3)
    path = export(
        model,
        tmp_path_factory.mktemp("tta") / "asym",
        class_names=CLASS_NAMES,
        sample_images=png,
        verify=True,
        tflite="float32",
        tta="flip",
    )
    return model, path, png


def test_signatures_average_the_mirror_like_keras(tta_export):
    model, path, png = tta_export
    with open(f"{path}/assets/model_card.json") as file:
        card = json.load(file)["export"]
    assert card["tta"] == "flip" and "mirror" in card["tta_note"]
    report = read_report(path)
    assert report["verification"]["ok"], report["verification"]["checks"]
    loaded = tf.saved_model.load(path)
    pixels = pixels_of(png)
    want = keras_tta(model, pixels)
    assert np.abs(want - softmax(model.predict(pixels, verbose=0))).max() > 0.05  # it matters
    served = loaded.signatures["serving_default"](image=tf.constant(png))
    np.testing.assert_allclose(served["probabilities"].numpy(), want, atol=1e-5)
    best = served["top_k_indices"].numpy()[:, 0]
    np.testing.assert_array_equal(best, want.argmax(axis=1))
    by_pixels = loaded.signatures["classify_pixels"](image=tf.constant(pixels))
    np.testing.assert_allclose(by_pixels["probabilities"].numpy(), want, atol=1e-5)
    # "logits" is the log of the averaged probabilities: its softmax gives them back.
    np.testing.assert_allclose(softmax(by_pixels["logits"].numpy()), want, atol=1e-5)
    # The embedding signature uses the image alone.
    pooler = keras.Model(model.inputs, model.get_layer("pooler").output)
    embedded = loaded.signatures["embed_pixels"](image=tf.constant(pixels))["embedding"]
    np.testing.assert_allclose(embedded.numpy(), pooler.predict(pixels, verbose=0), atol=1e-4)


def test_tflite_averages_the_mirror_too(tta_export):
    model, path, png = tta_export
    assert read_report(path)["tflite"]["float32"]["top1_agreement"] == 1.0
    with open(f"{path}/tflite/model_float32.tflite", "rb") as file:
        content = file.read()
    pixels = pixels_of(png)
    got = tflite.run(tflite.interpreter(content), pixels)["probabilities"]
    np.testing.assert_allclose(got, keras_tta(model, pixels), atol=1e-5)


def test_predict_follows_the_export_and_refuses_an_export_without_tta(
    tta_export, exported, tmp_path
):
    model, path, png = tta_export
    files = []
    for i, data in enumerate(png):
        files.append(str(tmp_path / f"{i}.png"))
        tf.io.write_file(files[-1], data)
    want = keras_tta(model, pixels_of(png))
    for tta in ("flip", None):  # the signature averages either way; predictor.tta says so
        assert load_predictor(str(path), tta=tta).tta == "flip"
        results = predict(str(path), files, top_k=5, tta=tta)
        for row, result in zip(want, results):
            scores = {p["index"]: p["score"] for p in result["predictions"]}
            np.testing.assert_allclose([scores[i] for i in range(5)], row, atol=1e-5)
    _, plain_path, _ = exported
    with pytest.raises(ValueError, match="exported without test-time augmentation.*--tta flip"):
        predict(plain_path, files, tta="flip")
    with pytest.raises(ValueError, match="the 'nearest' signature ranks gallery classes"):
        load_predictor(str(path), signature="nearest", tta="flip")


def test_verification_compares_with_the_keras_views_averaged(tta_export):
    model, path, png = tta_export
    assert verify_saved_model(path, ServingFunctions(model, CLASS_NAMES, tta="flip"), png)["ok"]
    single = verify_saved_model(path, ServingFunctions(model, CLASS_NAMES), png)
    assert not single["ok"] and not single["checks"]["bytes_png"]["ok"]


def test_a_side_input_model_mirrors_only_the_image(tmp_path):
    model = build("attribute_guided", num_attributes=3, side_dropout=0.0)
    png, _, _ = png_and_jpeg(count=2)
    path = export(
        model, tmp_path / "guided", class_names=CLASS_NAMES, sample_images=png, verify=True,
        tta="flip",
    )  # fmt: skip
    assert read_report(path)["verification"]["ok"]
    side = np.array([[1.0, np.nan, 0.0]], np.float32)
    pixels = pixels_of(png)
    loaded = tf.saved_model.load(path)
    got = loaded.signatures["classify_pixels"](image=tf.constant(pixels), attributes=side)
    want = keras_tta(model, pixels, attributes=np.repeat(side, len(pixels), axis=0))
    np.testing.assert_allclose(got["probabilities"].numpy(), want, atol=1e-5)
