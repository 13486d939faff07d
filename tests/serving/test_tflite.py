"""TFLite variants: parity with the Keras model, files, and the FFT refusal."""

import os

import numpy as np
import pytest
from export_helpers import CLASS_NAMES, SIZE, build, predict_outputs

from fgkeras.data import load
from fgkeras.serving import tflite
from fgkeras.serving.savedmodel import export, read_report

# Tolerances on probabilities, per variant (the models' outputs are deliberately peaked).
ATOL = {"float32": 1e-5, "float16": 5e-3, "dynamic": 5e-2, "int8": 0.1}
MIN_TOP1 = {"float32": 1.0, "float16": 1.0, "dynamic": 0.9, "int8": 0.75}


def _training_sample():
    ds = load("synthetic", "train", image_size=SIZE, batch_size=16, num_examples=48, seed=0)
    return ds.take(2)


@pytest.mark.parametrize(
    "name, variants", [("baseline", ("float32", "int8")), ("bcnn", ("float32", "dynamic"))]
)
def test_tflite_parity(tmp_path, name, variants):
    model = build(name)
    path = export(
        model,
        tmp_path / name,
        class_names=CLASS_NAMES,
        tflite=variants,
        representative_data=_training_sample(),
        warmup=False,
    )
    report = read_report(path)["tflite"]
    with open(os.path.join(path, "tflite", "labels.txt")) as f:
        assert f.read().splitlines() == CLASS_NAMES
    # Held-out images, run through the written files with a fresh interpreter.
    held_out = next(iter(load("synthetic", "test", image_size=SIZE, batch_size=8, seed=1)))[0]
    want = predict_outputs(model, held_out.numpy())["probabilities"]
    sizes = {}
    for variant in variants:
        with open(os.path.join(path, "tflite", f"model_{variant}.tflite"), "rb") as f:
            content = f.read()
        got = tflite.run(tflite.interpreter(content), held_out.numpy())["probabilities"]
        np.testing.assert_allclose(got, want, atol=ATOL[variant], err_msg=variant)
        assert np.mean(got.argmax(1) == want.argmax(1)) >= MIN_TOP1[variant], variant
        entry = report[variant]
        assert entry["size_bytes"] == len(content) and entry["latency_ms"] > 0
        assert entry["top1_agreement"] >= MIN_TOP1[variant]
        assert entry["max_abs_diff_probabilities"] <= ATOL[variant]
        sizes[variant] = len(content)
    if "int8" in sizes or "dynamic" in sizes:
        assert min(sizes.values()) < 0.5 * sizes["float32"]  # quantized weights are smaller


def test_fft_model_says_it_cannot_convert_and_names_the_option(tmp_path):
    model = build("cbp", output_dim=64)  # projection="tensor_sketch": FFT
    with pytest.raises(ValueError, match='projection="random_maclaurin"'):
        export(model, tmp_path / "cbp", class_names=CLASS_NAMES, tflite="float32")
    assert not (tmp_path / "cbp").exists()  # refused before anything was written


def test_int8_needs_images_at_the_models_size():
    with pytest.raises(ValueError, match="at the model's input size"):
        tflite.representative_pixels(np.zeros((2, 8, 8, 3)), (SIZE, SIZE))
