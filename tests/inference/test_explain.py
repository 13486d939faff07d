"""Explanations: Grad-CAM values, attention maps by name, overlays, the CLI."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras
from fgkeras.cli.main import main
from fgkeras.inference.explanations import (
    attention_maps,
    explain,
    grad_cam,
    map_peaks,
    peak_in_boxes,
    save_overlay,
)
from fgkeras.testing import random_inputs
from tests.image_bombs import jpeg_bomb

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_grad_cam_of_a_gap_linear_model_is_its_class_activation_map():
    # With global average pooling + a linear layer, Grad-CAM's channel weights are
    # W[:, c] / (h w), so the map is ReLU(sum_k W[k, c] f_k), normalized: the CAM.
    model = fgkeras.build("baseline", num_classes=4, **TINY)
    x = random_inputs((3, 32, 32, 3), high=255.0)
    features = np.asarray(
        keras.Model(model.input, model.get_layer("feature_map").output)(x, training=False)
    )
    kernel = np.asarray(model.get_layer("predictions").kernel)
    for class_index in (0, 3):
        cam = np.maximum(features @ kernel[:, class_index], 0)
        cam /= np.maximum(cam.max(axis=(1, 2), keepdims=True), 1e-12)
        np.testing.assert_allclose(grad_cam(model, x, class_index), cam, rtol=1e-4, atol=1e-5)


def test_grad_cam_default_explains_the_top_class():
    model = fgkeras.build("baseline", num_classes=4, **TINY)
    x = random_inputs((2, 32, 32, 3), seed=1, high=255.0)
    top = np.asarray(model(x, training=False)).argmax(axis=-1)
    np.testing.assert_allclose(grad_cam(model, x), grad_cam(model, x, top), atol=1e-6)


@pytest.mark.parametrize("name", ["soft_attention", "ws_dan", "two_stage", "ma_cnn"])
def test_attention_maps_by_name(name):
    model = fgkeras.build(name, num_classes=3, **TINY)
    maps = attention_maps(model, random_inputs((2, 32, 32, 3), high=255.0))
    assert list(maps)[0] == "attention_maps"
    assert maps["attention_maps"].shape[:3] == (2, 8, 8)
    assert np.all(maps["attention_maps"] >= 0)


def test_attention_maps_of_a_model_without_them_say_what_to_do():
    model = fgkeras.build("baseline", num_classes=3, **TINY)
    with pytest.raises(ValueError, match="grad_cam"):
        attention_maps(model, np.zeros((1, 32, 32, 3), "float32"))
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        grad_cam(model, np.zeros((1, 32, 32, 3), "float32"), feature_layer="nope")


def test_map_peaks_and_peak_in_boxes():
    maps = np.zeros((3, 4, 4), "float32")
    maps[0, 0, 0] = maps[1, 2, 3] = maps[2, 3, 1] = 1.0
    np.testing.assert_allclose(map_peaks(maps), [[0.125, 0.125], [0.625, 0.875], [0.875, 0.375]])
    boxes = np.array(
        [[[0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 1, 1]]] * 3, "float32"
    )  # two boxes per image
    assert peak_in_boxes(maps, boxes).tolist() == [True, True, False]
    assert peak_in_boxes(maps, boxes[:, 0]).tolist() == [True, False, False]


def test_save_overlay_writes_a_png(tmp_path):
    path = save_overlay(np.full((16, 16, 1), 128.0), np.eye(4), str(tmp_path / "sub" / "o.png"))
    with open(path, "rb") as handle:
        assert handle.read(8) == PNG_SIGNATURE


def test_explain_writes_one_overlay_per_image_and_map(tmp_path):
    model = fgkeras.build("ra_cnn", num_classes=3, num_scales=2, apn_units=8, **TINY)
    rows = explain(model, random_inputs((2, 32, 32, 3), high=255.0), str(tmp_path))
    assert sorted({row["method"] for row in rows}) == ["attention_maps", "grad_cam"]
    assert len(rows) == 4 and all(os.path.exists(row["path"]) for row in rows)
    assert all(0 <= row["peak_y"] <= 1 and 0 <= row["peak_x"] <= 1 for row in rows)


def test_explain_command(tmp_path, capsys):
    model = fgkeras.build("two_stage", num_classes=3, **TINY)
    model_file = str(tmp_path / "model.keras")
    model.save(model_file)
    image_file = str(tmp_path / "bird.png")
    pixels = tf.cast(random_inputs((40, 48, 3), high=255.0), tf.uint8)
    tf.io.write_file(image_file, tf.io.encode_png(pixels))
    out = tmp_path / "out"
    assert main(["explain", str(tmp_path), image_file, "--out", str(out), "--json"]) == 0
    printed = capsys.readouterr().out
    assert "bird_grad_cam.png" in printed and "bird_attention_maps.png" in printed
    assert (out / "bird_grad_cam.png").read_bytes()[:8] == PNG_SIGNATURE
    assert main(["explain", model_file, image_file, "--out", str(out), "--class-index", "2"]) == 0


def test_explain_command_user_errors(tmp_path, capsys):
    assert main(["explain", str(tmp_path), "x.png", "--out", str(tmp_path)]) == 2
    assert "No model found" in capsys.readouterr().err
    model_file = str(tmp_path / "model.keras")
    fgkeras.build("baseline", num_classes=3, **TINY).save(model_file)
    assert main(["explain", model_file, str(tmp_path / "missing.png"), "--out", "o"]) == 2
    assert "Image file not found" in capsys.readouterr().err
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(jpeg_bomb())  # a few hundred bytes declaring 30000x30000 pixels
    assert main(["explain", model_file, str(bomb), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(bomb) in err and "30000x30000" in err and "limit of 89,478,485" in err
    assert len(err.strip().splitlines()) == 1
