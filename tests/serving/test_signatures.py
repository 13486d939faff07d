"""Every exported signature against `model.predict` on the same images."""

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from export_helpers import CLASS_NAMES, SIZE, build, expected_outputs, png_and_jpeg, predict_outputs
from PIL import Image

from fgkeras.serving.preprocess import decode_images, resize_for_eval, resize_pixels
from fgkeras.serving.savedmodel import export, read_report
from fgkeras.serving.signatures import SIGNATURE_NAMES, inference_model


def test_signature_names_inputs_and_outputs(exported):
    _, _, loaded = exported
    assert sorted(loaded.signatures) == sorted(SIGNATURE_NAMES)
    default = loaded.signatures["serving_default"]
    images = default.structured_input_signature[1]["image"]
    assert images.dtype == tf.string and images.shape.as_list() == [None]
    assert sorted(default.structured_outputs) == [
        "probabilities",
        "top_k_indices",
        "top_k_names",
        "top_k_scores",
    ]
    pixels = loaded.signatures["classify_pixels"].structured_input_signature[1]["image"]
    assert pixels.dtype == tf.float32 and pixels.shape.as_list() == [None, None, None, 3]
    assert loaded.signatures["embed"].structured_outputs["embedding"].shape.as_list() == [
        None,
        128,
    ]


def test_bytes_signatures_match_predict(exported):
    model, _, loaded = exported
    png, _, _ = png_and_jpeg()
    want = expected_outputs(model, png)
    out = loaded.signatures["serving_default"](image=tf.constant(png))
    np.testing.assert_allclose(out["probabilities"], want["probabilities"], atol=1e-5)
    assert want["probabilities"].max() > 0.4  # the scaled-up model is far from uniform
    order = np.argsort(-want["probabilities"], axis=1)[:, :5]
    np.testing.assert_array_equal(out["top_k_indices"], order)
    np.testing.assert_allclose(
        out["top_k_scores"], np.take_along_axis(want["probabilities"], order, 1), atol=1e-5
    )
    names = np.array(CLASS_NAMES)[order]
    assert out["top_k_names"].numpy().astype(str).tolist() == names.tolist()
    embedding = loaded.signatures["embed"](image=tf.constant(png))["embedding"]
    np.testing.assert_allclose(embedding, want["embedding"], rtol=1e-4, atol=1e-5)


def test_pixel_signatures_match_predict(exported):
    model, _, loaded = exported
    pixels = np.random.default_rng(0).uniform(0, 255, (3, SIZE, SIZE, 3)).astype("float32")
    want = predict_outputs(model, pixels)
    out = loaded.signatures["classify_pixels"](image=tf.constant(pixels))
    np.testing.assert_allclose(out["logits"], want["logits"], atol=1e-4)
    np.testing.assert_allclose(out["probabilities"], want["probabilities"], atol=1e-5)
    embedding = loaded.signatures["embed_pixels"](image=tf.constant(pixels))["embedding"]
    np.testing.assert_allclose(embedding, want["embedding"], rtol=1e-4, atol=1e-5)


def test_pixel_signature_resizes_like_the_bytes_signature(exported):
    _, _, loaded = exported
    png, _, pictures = png_and_jpeg(count=2)
    from_bytes = loaded.signatures["serving_default"](image=tf.constant(png))
    from_pixels = loaded.signatures["classify_pixels"](image=tf.constant(pictures, tf.float32))
    np.testing.assert_allclose(from_pixels["probabilities"], from_bytes["probabilities"], atol=1e-6)


def test_jpeg_bytes_within_tolerance(exported):
    model, _, loaded = exported
    _, jpeg, _ = png_and_jpeg()
    out = loaded.signatures["serving_default"](image=tf.constant(jpeg))
    want = expected_outputs(model, jpeg)  # Pillow's JPEG decoder, not TensorFlow's
    np.testing.assert_allclose(out["probabilities"], want["probabilities"], atol=2e-2)


def _encode_pil(array, fmt, mode=None):
    buffer = io.BytesIO()
    image = Image.fromarray(array)
    image = image.convert(mode) if mode else image
    image.save(buffer, fmt)
    return buffer.getvalue()


def test_grey_rgba_gif_and_bmp_decode_to_rgb():
    picture = png_and_jpeg(count=1, size=(20, 24))[2][0]
    grey = np.asarray(Image.fromarray(picture).convert("L"))
    cases = {
        "grey png": (_encode_pil(grey, "PNG"), np.repeat(grey[..., None], 3, -1)),
        "rgba png": (_encode_pil(picture, "PNG", "RGBA"), picture),
        "bmp": (_encode_pil(picture, "BMP"), picture),
    }
    for name, (data, want) in cases.items():
        got = decode_images(tf.constant([data]), (20, 24))[0].numpy()
        np.testing.assert_array_equal(got, want.astype("float32"), err_msg=name)
    gif = _encode_pil(picture, "GIF")  # palette-quantized: compare with Pillow's decoding
    got = decode_images(tf.constant([gif]), (20, 24))[0].numpy()
    want = np.asarray(Image.open(io.BytesIO(gif)).convert("RGB"), "float32")
    np.testing.assert_array_equal(got, want)


def test_preprocessing_matches_the_evaluation_pipeline_eagerly_and_in_dataset_map():
    from fgkeras.data import transforms

    png, _, _ = png_and_jpeg(count=2)
    for resize_size in (None, 40):
        want = np.stack(
            [
                transforms.resize_example(
                    transforms.decode({"encoded": data, "label": 0}), SIZE, resize_size
                )["image"].numpy()
                for data in png
            ]
        )
        eager = decode_images(tf.constant(png), SIZE, resize_size).numpy()
        mapped = next(
            iter(
                tf.data.Dataset.from_tensors(tf.constant(png)).map(
                    lambda batch, r=resize_size: decode_images(batch, SIZE, r)
                )
            )
        ).numpy()
        np.testing.assert_allclose(eager, want, atol=1e-4)
        np.testing.assert_allclose(mapped, want, atol=1e-4)
    # Whole-image resizing is plain bilinear resizing without antialiasing.
    image = tf.constant(png_and_jpeg(count=1)[2][0])
    np.testing.assert_allclose(
        resize_for_eval(image, SIZE),
        tf.image.resize(tf.cast(image, tf.float32), (SIZE, SIZE), antialias=False),
        atol=1e-3,
    )
    same = tf.random.uniform([2, SIZE, SIZE, 3], 0, 255)
    np.testing.assert_allclose(resize_pixels(same, SIZE), same, atol=1e-4)


def test_augmentation_wrapper_is_left_out_of_the_export(tmp_path):
    net = build("baseline")
    inputs = keras.Input((SIZE, SIZE, 3))
    augmented = keras.layers.RandomContrast(0.9)(keras.layers.RandomFlip()(inputs))
    wrapped = keras.Model(inputs, net(augmented))
    assert inference_model(wrapped) is net
    pixels = np.random.default_rng(1).uniform(0, 255, (4, SIZE, SIZE, 3)).astype("float32")
    path = export(wrapped, tmp_path / "m", class_names=CLASS_NAMES, warmup=False)
    loaded = tf.saved_model.load(path)
    for _ in range(2):  # deterministic: no random augmentation at serving time
        out = loaded.signatures["classify_pixels"](image=tf.constant(pixels))
        np.testing.assert_allclose(out["logits"], net.predict(pixels, verbose=0), atol=1e-4)


def test_training_wrapper_is_unwrapped():
    from fgkeras.data import build_augmenter
    from fgkeras.training.trainer import Trainer

    net = build("baseline")
    assert inference_model(Trainer(net, build_augmenter("light", seed=0))) is net
    with pytest.raises(ValueError, match="no layer named 'predictions'"):
        inference_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))


def test_assets_hold_class_names_and_model_card(exported):
    import json
    import os

    _, path, _ = exported
    with open(os.path.join(path, "assets", "class_names.txt")) as f:
        assert f.read().splitlines() == CLASS_NAMES
    with open(os.path.join(path, "assets", "class_names.json")) as f:
        assert json.load(f) == CLASS_NAMES
    with open(os.path.join(path, "assets", "model_card.json")) as f:
        card = json.load(f)
    assert card["name"] == "baseline" and card["paper"]
    assert card["export"]["input_size"] == [SIZE, SIZE] and card["export"]["top_k"] == 5
    assert sorted(card["export"]["signatures"]) == sorted(SIGNATURE_NAMES)
    assert read_report(path)["version"] == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"class_names": ["a", "b"]}, "5 classes but 2 class names"),
        ({"class_names": CLASS_NAMES, "top_k": 0}, "top_k"),
        ({"class_names": CLASS_NAMES, "tflite": "int4"}, "TFLite variants"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        export(build("baseline"), tmp_path / "m", **kwargs)
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_top_k_is_clipped_to_the_number_of_classes(tmp_path):
    path = export(build("bcnn"), tmp_path / "m", class_names=CLASS_NAMES, top_k=50, warmup=False)
    loaded = tf.saved_model.load(path)
    png, _, _ = png_and_jpeg(count=1)
    out = loaded.signatures["serving_default"](image=tf.constant(png))
    assert out["top_k_names"].shape == (1, len(CLASS_NAMES))


def test_pixel_limit_is_fixed_in_the_graph_at_export_time(tmp_path, monkeypatch):
    monkeypatch.setenv("FGKERAS_MAX_IMAGE_PIXELS", "1600")  # 40x40
    path = export(build("baseline"), tmp_path / "m", class_names=CLASS_NAMES, warmup=False)
    monkeypatch.delenv("FGKERAS_MAX_IMAGE_PIXELS")
    loaded = tf.saved_model.load(path)
    small, _, _ = png_and_jpeg(count=1, size=(40, 40))
    large, _, _ = png_and_jpeg(count=1, size=(41, 40))
    assert loaded.signatures["serving_default"](image=tf.constant(small))["probabilities"].shape
    with pytest.raises(tf.errors.InvalidArgumentError, match="image\\[1\\]: image too large.*1600"):
        loaded.signatures["embed"](image=tf.constant(small + large))
    import json
    import os

    with open(os.path.join(path, "assets", "model_card.json")) as f:
        assert json.load(f)["export"]["preprocessing"]["max_pixels"] == 1600
    with pytest.raises(ValueError, match="positive integer"):
        export(build("baseline"), tmp_path / "n", class_names=CLASS_NAMES, max_pixels=0)
