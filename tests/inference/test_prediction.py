"""Prediction: real image files, corrupt files, every kind of saved model."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from fgkeras.inference.prediction import list_image_files, load_predictor, predict, top_predictions
from tests.image_bombs import png_bomb

NAMES = ["red", "green", "blue"]
# A colour (R, G, B) = (200, 100, 0) image gives logits (2, 1, 0):
EXPECTED_RED = np.exp([2.0, 1.0, 0.0]) / np.exp([2.0, 1.0, 0.0]).sum()


def colour_model(size=8):
    """Logits = mean R, G, B / 100: the predictions are known exactly."""
    inputs = keras.Input((size, size, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Rescaling(0.01, name="predictions")(pooled))


def write_image(path, colour, shape=(20, 30), fmt=None):
    image = np.zeros((*shape, 3), np.uint8)
    image[..., colour] = 200
    image[..., (colour + 1) % 3] = 100
    fmt = fmt or os.path.splitext(str(path))[1][1:].lower()
    if fmt == "png":
        data = tf.io.encode_png(image)
    elif fmt in ("jpg", "jpeg"):
        data = tf.io.encode_jpeg(image, quality=100)
    else:
        from PIL import Image

        Image.fromarray(image).save(path)
        return path
    tf.io.write_file(str(path), data)
    return path


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    (folder / "nested").mkdir(parents=True)
    write_image(folder / "a_red.png", 0)
    write_image(folder / "b_green.jpg", 1, shape=(31, 17))
    write_image(folder / "nested" / "c_blue.bmp", 2)
    write_image(folder / "nested" / "d_blue.tiff", 2)  # decoded with PIL
    (folder / "notes.txt").write_text("not an image, and skipped: no image extension")
    return folder


def labels_of(results):
    return [r["predictions"][0]["label"] if r["predictions"] else None for r in results]


def test_keras_model_on_real_files(images):
    results = predict(colour_model(), [images], top_k=3, class_names=NAMES)
    names = [os.path.relpath(r["path"], images) for r in results]
    assert names == ["a_red.png", "b_green.jpg", "nested/c_blue.bmp", "nested/d_blue.tiff"]
    assert labels_of(results) == ["red", "green", "blue", "blue"]
    assert all(r["error"] is None for r in results)
    red = results[0]["predictions"]
    assert [p["label"] for p in red] == ["red", "green", "blue"]
    np.testing.assert_allclose([p["score"] for p in red], EXPECTED_RED, atol=1e-5)
    assert [p["index"] for p in results[1]["predictions"]] == [1, 2, 0]


def test_corrupt_files_get_per_file_errors(images, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "text.png").write_text("hello")
    (bad / "empty.jpg").write_bytes(b"")
    jpeg = tf.io.encode_jpeg(np.full((64, 64, 3), 90, np.uint8)).numpy()
    (bad / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    results = predict(colour_model(), [images / "a_red.png", bad], class_names=NAMES)
    errors = {os.path.basename(r["path"]): r["error"] for r in results}
    assert errors["a_red.png"] is None and labels_of(results)[0] == "red"
    assert errors["text.png"] == "not an image file"
    assert "empty" in errors["empty.jpg"]
    assert "truncated" in errors["truncated.jpg"].lower()
    assert all(r["predictions"] == [] for r in results[1:])


def test_run_directory_and_keras_file(images, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    colour_model().save(run_dir / "model.keras")
    (run_dir / "class_names.json").write_text(json.dumps(NAMES))
    (run_dir / "config.json").write_text(json.dumps({"resize_size": 10}))
    predictor = load_predictor(run_dir)
    assert (predictor.kind, predictor.image_size, predictor.resize_size) == ("keras", (8, 8), 10)
    assert predictor.class_names == NAMES
    assert labels_of(predict(predictor, [images])) == ["red", "green", "blue", "blue"]
    # A .keras file alone: names from a class_names.json next to it, else indices.
    assert labels_of(predict(run_dir / "model.keras", [images / "a_red.png"])) == ["red"]
    alone = tmp_path / "alone.keras"
    colour_model().save(alone)
    out = predict(alone, [images / "b_green.jpg"], top_k=10)
    assert [p["label"] for p in out[0]["predictions"]] == ["1", "2", "0"]  # clipped to 3


def test_exported_saved_model(images, tmp_path):
    from fgkeras.serving import export

    model = colour_model()
    base = tmp_path / "saved" / "colours"
    export(model, base, class_names=NAMES, version=1, warmup=False)
    export(model, base, class_names=["r", "g", "b"], version=2, warmup=False)
    predictor = load_predictor(base)  # the TF Serving base path: highest version
    assert predictor.kind == "savedmodel-bytes" and predictor.path.endswith("2")
    assert predictor.class_names == ["r", "g", "b"]
    results = predict(predictor, [images])
    assert labels_of(results) == ["r", "g", "b", "b"]
    np.testing.assert_allclose(
        [p["score"] for p in results[0]["predictions"]], EXPECTED_RED, atol=1e-5
    )
    version_1 = predict(base / "1", [images / "a_red.png"], top_k=1)
    assert labels_of(version_1) == ["red"]
    # Corrupt files and decompression bombs are caught before the signature sees them.
    (images / "broken.png").write_bytes(b"\x89PNG broken")
    (images / "bomb.png").write_bytes(png_bomb())
    errors = {os.path.basename(r["path"]): r["error"] for r in predict(predictor, [images])}
    assert list(errors.values()).count(None) == 4 and errors["broken.png"]
    assert errors["bomb.png"].startswith("image too large: its header declares 30000x30000")


class PixelsOnly(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32, name="x")])
    def classify(self, x):
        return {"logits": tf.reduce_mean(x, axis=[1, 2]) / 100.0}


def test_generic_saved_model_with_a_pixels_signature(images, tmp_path):
    module = PixelsOnly()
    path = tmp_path / "pixels_model"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.classify})
    predictor = load_predictor(path)
    assert (predictor.kind, predictor.image_size) == ("savedmodel-pixels", (8, 8))
    results = predict(predictor, [images / "a_red.png", images / "b_green.jpg"])
    assert labels_of(results) == ["0", "1"]  # no class names anywhere: indices
    np.testing.assert_allclose(
        [p["score"] for p in results[0]["predictions"]], EXPECTED_RED, atol=1e-5
    )


def test_user_errors(tmp_path, images):
    with pytest.raises(FileNotFoundError, match="Model not found"):
        load_predictor(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a run directory"):
        load_predictor(tmp_path / "empty")
    with pytest.raises(ValueError, match="No image files found"):
        list_image_files([tmp_path / "empty"])
    with pytest.raises(FileNotFoundError, match="No such image file or folder"):
        predict(colour_model(), [images / "missing.png"])
    with pytest.raises(ValueError, match="top_k"):
        predict(colour_model(), [images], top_k=0)


def test_top_predictions_keeps_probabilities_and_softmaxes_logits():
    assert top_predictions([0.25, 0.75], top_k=1) == [{"label": "1", "index": 1, "score": 0.75}]
    out = top_predictions([0.0, np.log(3.0)], ["a", "b"])
    assert [(p["label"], p["score"]) for p in out] == [("b", 0.75), ("a", 0.25)]
