"""TF Serving warmup records: ``assets.extra/tf_serving_warmup_requests``.

TF Serving replays these requests when it loads a version, before it marks
the version available, so the first real request does not pay for graph
initialization. The file is a TFRecord of ``PredictionLog`` protos, one
``PredictRequest`` each.
"""

from __future__ import annotations

import os

import tensorflow as tf

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def warmup_requests(
    images, pixels, model_name="model", signature_names=None, extra_inputs=None
) -> list:
    """One ``PredictionLog`` per signature: image bytes or float pixels, as input ``image``.

    Args:
        images: a list of encoded images for the bytes signatures.
        pixels: float pixels ``[N, H, W, 3]`` for the pixel signatures.
        model_name: model name in the requests. Defaults to "model".
        signature_names: signatures to warm up; ``nearest`` (with a gallery)
            takes bytes like ``serving_default``. Defaults to None
            (`fgkeras.serving.signatures.SIGNATURE_NAMES`).
        extra_inputs: ``{signature: {input: array}}``, the inputs besides
            ``image`` some signatures take (``zero_shot``'s class table; see
            `ServingFunctions.example_inputs`). Defaults to None.

    >>> import numpy as np
    >>> logs = warmup_requests([b"x"], np.zeros((1, 2, 2, 3)), signature_names=["embed"])
    >>> logs[0].predict_log.request.model_spec.signature_name
    'embed'
    """
    from tensorflow_serving.apis import prediction_log_pb2

    from fgkeras.serving.requests import predict_request
    from fgkeras.serving.signatures import (
        BYTES_SIGNATURES,
        INPUT_NAME,
        SIGNATURE_NAMES,
        TEXT_ONLY_SIGNATURES,
    )

    logs = []
    for name in signature_names or SIGNATURE_NAMES:
        inputs = {INPUT_NAME: list(images) if name in BYTES_SIGNATURES else pixels}
        if name in TEXT_ONLY_SIGNATURES:
            inputs = {}
        inputs.update((extra_inputs or {}).get(name, {}))
        request = predict_request(inputs, model_name=model_name, signature_name=name)
        logs.append(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
        )
    return logs


def write_warmup(version_dir, logs) -> str:
    """Write ``logs`` to the version's warmup file; return its path.

    >>> import tempfile
    >>> write_warmup(tempfile.mkdtemp(), []).endswith("tf_serving_warmup_requests")
    True
    """
    path = os.path.join(os.fspath(version_dir), WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


def read_warmup(version_dir) -> list:
    """The ``PredictionLog`` records of a version's warmup file.

    >>> import tempfile
    >>> directory = tempfile.mkdtemp()
    >>> _ = write_warmup(directory, warmup_requests([b"x"], [[[[0.0] * 3]]], signature_names=[
    ...     "serving_default"]))
    >>> [log.predict_log.request.model_spec.signature_name for log in read_warmup(directory)]
    ['serving_default']
    """
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(os.fspath(version_dir), WARMUP_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No warmup file at {path!r}.")
    logs = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs
