"""TF Serving compatibility: REST bodies, gRPC requests, warmup, saved_model_cli, bad input."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from export_helpers import CLASS_NAMES, SIZE, expected_outputs, png_and_jpeg, predict_outputs

from fgkeras.serving.requests import (
    decode_rest_body,
    grpc_predict,
    predict_request,
    response_arrays,
    rest_body,
    rest_predict,
)
from fgkeras.serving.warmup import WARMUP_FILE, read_warmup
from tests.image_bombs import BOMBS


@pytest.mark.parametrize("form", ["instances", "named", "columnar"])
def test_rest_bodies_match_predict(exported, form):
    model, _, loaded = exported
    png, _, _ = png_and_jpeg(count=3)
    body = json.dumps(rest_body(png, form=form))  # through JSON text, as over HTTP
    status, answer = rest_predict(loaded, body)
    assert status == 200, answer
    answer = json.loads(json.dumps(answer))
    want = expected_outputs(model, png)["probabilities"]
    if form == "columnar":
        probabilities = np.array(answer["outputs"]["probabilities"])
        names = answer["outputs"]["top_k_names"]
    else:
        probabilities = np.array([row["probabilities"] for row in answer["predictions"]])
        names = [row["top_k_names"] for row in answer["predictions"]]
    np.testing.assert_allclose(probabilities, want, atol=1e-5)
    assert names == np.array(CLASS_NAMES)[np.argsort(-want, axis=1)].tolist()


def test_rest_pixels_and_single_output_signatures(exported):
    model, _, loaded = exported
    pixels = np.random.default_rng(2).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    want = predict_outputs(model, pixels)
    body = rest_body(pixels, "columnar", signature_name="embed_pixels")
    status, answer = rest_predict(loaded, json.dumps(body))
    # One output: TF Serving answers the bare value, not an object of outputs.
    assert status == 200 and isinstance(answer["outputs"], list)
    np.testing.assert_allclose(answer["outputs"], want["embedding"], rtol=1e-4, atol=1e-5)
    body = rest_body(pixels, "instances", signature_name="classify_pixels")
    status, answer = rest_predict(loaded, body)
    np.testing.assert_allclose(
        [row["logits"] for row in answer["predictions"]], want["logits"], atol=1e-4
    )


def test_rest_decoding_follows_tf_serving_rules():
    dtypes = {"image": tf.string}
    # {"b64": ...} is decoded for any string input, whatever its name; plain strings are UTF-8.
    _, inputs, _ = decode_rest_body({"instances": [{"b64": "AAE="}, "text"]}, dtypes)
    assert inputs["image"].tolist() == [b"\x00\x01", b"text"]
    _, inputs, form = decode_rest_body({"inputs": [{"b64": "AAE="}]}, dtypes)
    assert inputs["image"].tolist() == [b"\x00\x01"] and form == "columnar"
    for body, match in [
        ({"instances": [{"b64": "AAE="}], "inputs": []}, "exactly one"),
        ({"instances": [{"photos": {"b64": "AAE="}}]}, "unknown \\['photos'\\]"),
        ({"instances": [{"b64": "%%%"}]}, "base64"),
        ({"instances": []}, "non-empty"),
    ]:
        with pytest.raises(ValueError, match=match):
            decode_rest_body(body, dtypes)
    with pytest.raises(ValueError, match="must be named"):
        decode_rest_body({"instances": [1.0]}, {"a": tf.float32, "b": tf.float32})


@pytest.mark.parametrize(
    "bad, message",
    [
        (b"", "is empty \\(0 bytes\\)"),
        (b"this is not an image", "is not a JPEG, PNG, GIF, BMP or WebP file"),
        (b"\x00\xff\xfe binary garbage", "first bytes: \\?\\?\\? bin"),
    ],
)
def test_bad_bytes_give_invalid_argument(exported, bad, message):
    _, _, loaded = exported
    png, _, _ = png_and_jpeg(count=1)
    status, answer = rest_predict(loaded, rest_body([png[0], bad]))
    assert status == 400 and "Invalid image: image[1]" in answer["error"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.signatures["serving_default"](image=tf.constant([png[0], bad]))


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_decompression_bombs_give_invalid_argument_without_decoding(exported, fmt):
    _, _, loaded = exported
    png, _, _ = png_and_jpeg(count=1)
    bomb = BOMBS[fmt]()  # a few hundred bytes declaring 30000x30000 pixels (2.7 GB decoded)
    start = time.perf_counter()
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        loaded.signatures["serving_default"](image=tf.constant([png[0], bomb]))
    message = error.value.message
    assert "Invalid image: image[1]: image too large" in message
    assert "30000x30000 = 900000000 pixels, more than the limit of 89478485" in message
    status, answer = rest_predict(loaded, rest_body([bomb, png[0]]))
    assert status == 400 and "Invalid image: image[0]: image too large" in answer["error"]
    assert time.perf_counter() - start < 30  # refused from the header, never decoded


def test_truncated_jpeg_is_refused(exported):
    _, _, loaded = exported
    _, jpeg, _ = png_and_jpeg(count=1)
    status, answer = rest_predict(loaded, rest_body([jpeg[0][: len(jpeg[0]) // 2]]))
    assert status == 400 and answer["error"]


def test_unknown_signature_is_a_400(exported):
    _, _, loaded = exported
    status, answer = rest_predict(loaded, rest_body([b"x"], signature_name="nope"))
    assert status == 400 and "not found in signature def" in answer["error"]


def test_grpc_predict_request(exported):
    model, _, loaded = exported
    png, _, _ = png_and_jpeg(count=2)
    request = predict_request({"image": png}, model_name="birds", version=1)
    assert request.model_spec.name == "birds" and request.model_spec.version.value == 1
    wire = request.SerializeToString()  # what goes over the channel
    from tensorflow_serving.apis import predict_pb2

    received = predict_pb2.PredictRequest.FromString(wire)
    response = grpc_predict(loaded, received)
    arrays = response_arrays(response)
    np.testing.assert_allclose(
        arrays["probabilities"], expected_outputs(model, png)["probabilities"], atol=1e-5
    )
    assert arrays["top_k_names"].shape == (2, 5)
    bad = predict_request({"image": [b"garbage"]})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid image"):
        grpc_predict(loaded, bad)


def test_warmup_file_replays_every_signature(exported):
    _, path, loaded = exported
    assert os.path.exists(os.path.join(path, WARMUP_FILE))
    logs = read_warmup(path)
    signatures = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert sorted(signatures) == sorted(loaded.signatures)
    for log in logs:
        request = log.predict_log.request
        (name,) = request.inputs
        assert name == "image"  # one input name for bytes and pixels, as in the data and model
        dtype = request.inputs["image"].dtype
        bytes_signature = request.model_spec.signature_name in ("serving_default", "embed")
        assert dtype == (tf.string if bytes_signature else tf.float32).as_datatype_enum
        response = response_arrays(grpc_predict(loaded, request))  # replays without error
        assert all(np.all(np.isfinite(v)) for v in response.values() if v.dtype != object)


def test_saved_model_cli_lists_the_signatures(exported):
    _, path, _ = exported
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run(
        [cli, "show", "--dir", path, "--tag_set", "serve"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr
    for name in ("serving_default", "classify_pixels", "embed", "embed_pixels"):
        assert f'"{name}"' in result.stdout
