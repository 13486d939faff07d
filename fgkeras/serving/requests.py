"""TF Serving request formats: REST JSON bodies and gRPC ``PredictRequest``.

No TF Serving binary runs here, so these helpers do what the server does
with a request, against a SavedModel loaded with `tf.saved_model.load`:

- `rest_body` writes the JSON bodies TF Serving's REST API accepts (row
  ``instances``, named instances, columnar ``inputs``); `rest_predict`
  decodes one the way TF Serving's ``json_tensor.cc`` does (``{"b64": ...}``
  objects become bytes for any string input, whatever its name), runs the
  signature and answers in TF Serving's JSON (``predictions`` for rows,
  ``outputs`` for columns; ``{"error": ...}`` with status 400 on bad input).
- `predict_request` builds a gRPC ``PredictRequest`` (``tensorflow-serving-api``);
  `grpc_predict` answers it with a ``PredictResponse``.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import tensorflow as tf

FORMS = ("instances", "named", "columnar")


def rest_body(inputs, form="instances", signature_name="serving_default", input_name="image"):
    """A TF Serving REST ``:predict`` body for a batch.

    Args:
        inputs: a list of image bytes (sent as ``{"b64": ...}``) or an array
            of float pixels ``[N, H, W, 3]``; or, for a signature with more
            than one input (``zero_shot``), a dict ``{input_name: values}``,
            sent in the columnar form (the only one whose inputs may have
            different batch sizes: N images, K class rows).
        form: "instances" (``{"instances": [{"b64": ...}, ...]}``), "named"
            (``{"instances": [{"image": {"b64": ...}}, ...]}``) or "columnar"
            (``{"inputs": {"image": [...]}}``). Defaults to "instances".
        signature_name: the signature to run. Defaults to "serving_default".
        input_name: the signature's input name. Defaults to "image" (the
            input of every fgkeras signature).

    >>> rest_body([b"abc"], form="named")
    {'signature_name': 'serving_default', 'instances': [{'image': {'b64': 'YWJj'}}]}
    >>> rest_body([b"abc"], form="columnar")["inputs"]
    {'image': [{'b64': 'YWJj'}]}
    >>> rest_body({"image": [b"abc"], "class_attributes": [[0.0, 1.0]]},
    ...           signature_name="zero_shot")["inputs"]["class_attributes"]
    [[0.0, 1.0]]
    """
    if form not in FORMS:
        raise ValueError(f"`form` must be one of {FORMS}. Received: form={form!r}")
    if isinstance(inputs, dict):
        columns = {
            name: [_json_value(value) for value in values] for name, values in inputs.items()
        }
        return {"signature_name": signature_name, "inputs": columns}
    values = [_json_value(value) for value in inputs]
    body = {"signature_name": signature_name}
    if form == "instances":
        body["instances"] = values
    elif form == "named":
        body["instances"] = [{input_name: value} for value in values]
    else:
        body["inputs"] = {input_name: values}
    return body


def _json_value(value):
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    return np.asarray(value).tolist()


def decode_rest_body(body, input_dtypes: dict) -> tuple[str, dict, str]:
    """Decode a REST body as TF Serving does: ``(signature_name, inputs, form)``.

    Args:
        body: the JSON text or the parsed dict.
        input_dtypes: ``{input_name: tf.DType}`` of the signature.

    Returns:
        The signature name, ``{input_name: np.ndarray}`` (bytes as object
        arrays) and "row" or "columnar" (the form the answer takes).

    >>> name, inputs, form = decode_rest_body(
    ...     '{"instances": [{"b64": "YWJj"}]}', {"image": tf.string})
    >>> name, inputs["image"].tolist(), form
    ('serving_default', [b'abc'], 'row')
    """
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as error:
            raise ValueError(f"JSON Parse error: {error}") from error
    if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
        raise ValueError("Missing 'inputs' or 'instances' key (exactly one of them is needed).")
    signature_name = body.get("signature_name", "serving_default")
    names = list(input_dtypes)
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise ValueError("'instances' must be a non-empty JSON list.")
        if all(isinstance(row, dict) and not _is_b64(row) for row in rows):
            keys = set(rows[0])
            if any(set(row) != keys for row in rows):
                raise ValueError("All named instances must have the same input names.")
            columns = {key: [row[key] for row in rows] for key in keys}
        elif len(names) == 1:
            columns = {names[0]: rows}
        else:
            raise ValueError(
                "instances must be named (objects of input name to value) when the "
                f"signature has more than one input: {names}."
            )
        form = "row"
    else:
        columns = body["inputs"]
        if not (isinstance(columns, dict) and not _is_b64(columns)):
            if len(names) != 1:
                raise ValueError(f"'inputs' must be an object keyed by input name: {names}.")
            columns = {names[0]: columns}
        form = "columnar"
    unknown = sorted(set(columns) - set(names))
    missing = sorted(set(names) - set(columns))
    if unknown or missing:
        raise ValueError(
            f"Input names do not match signature {signature_name!r}: unknown {unknown}, "
            f"missing {missing}; the signature takes {names}."
        )
    inputs = {key: _to_array(value, input_dtypes[key], key) for key, value in columns.items()}
    return signature_name, inputs, form


def _is_b64(value):
    return isinstance(value, dict) and set(value) == {"b64"}


def _to_array(value, dtype, name):
    dtype = tf.as_dtype(dtype)
    if dtype == tf.string:
        return np.asarray(_strings(value), dtype=object)
    try:
        return np.asarray(value, dtype=dtype.as_numpy_dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Input {name!r} is not a {dtype.name} tensor: {error}") from error


def _strings(value):
    if _is_b64(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError as error:
            raise ValueError(f"Unable to base64 decode: {error}") from error
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, list):
        return [_strings(item) for item in value]
    raise ValueError(f"Expected a string or {{'b64': ...}} for a string input. Received: {value!r}")


def rest_predict(loaded, body) -> tuple[int, dict]:
    """Answer a REST ``:predict`` body like TF Serving: ``(status, json_dict)``.

    Args:
        loaded: the object returned by `tf.saved_model.load` (keep a
            reference to it while its signatures are used).
        body: the request body (JSON text or dict).

    Returns:
        ``(200, {"predictions": [...]})`` for row bodies,
        ``(200, {"outputs": {...}})`` for columnar ones, or
        ``(400, {"error": "..."})`` for a bad request or bad image bytes.

    >>> rest_predict(None, "not json")[0]
    400
    """
    try:
        if loaded is None:
            raise ValueError("No model loaded.")
        name = body.get("signature_name", "serving_default") if isinstance(body, dict) else None
        if name is None:
            name = json.loads(body).get("signature_name", "serving_default")
        signature = _signature(loaded, name)
        dtypes = {k: v.dtype for k, v in signature.structured_input_signature[1].items()}
        name, inputs, form = decode_rest_body(body, dtypes)
        outputs = {k: v.numpy() for k, v in signature(**_tensors(inputs, dtypes)).items()}
    except (ValueError, tf.errors.InvalidArgumentError) as error:
        return 400, {"error": _message(error)}
    return 200, _json_response(outputs, form)


def _signature(loaded, name):
    if name not in loaded.signatures:
        raise ValueError(
            f"Serving signature name: {name!r} not found in signature def. "
            f"Available: {sorted(loaded.signatures)}"
        )
    return loaded.signatures[name]


def _tensors(inputs, dtypes):
    return {key: tf.constant(value, dtype=dtypes[key]) for key, value in inputs.items()}


def _message(error):
    text = getattr(error, "message", None) or str(error)
    return text.strip()


def _json_response(outputs, form):
    def plain(name, value):
        if isinstance(value, np.ndarray) and value.dtype == object:
            if name.endswith("_bytes"):
                return np.vectorize(_json_value, otypes=[object])(value).tolist()
            return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value).tolist()
        return np.asarray(value).tolist()

    columns = {name: plain(name, value) for name, value in outputs.items()}
    if form == "columnar":
        return {"outputs": columns if len(columns) > 1 else next(iter(columns.values()))}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    count = len(next(iter(columns.values())))
    return {"predictions": [{k: v[i] for k, v in columns.items()} for i in range(count)]}


def _serving_apis():
    try:
        from tensorflow_serving.apis import predict_pb2
    except ImportError as error:
        raise ImportError(
            "gRPC requests and warmup files need the TF Serving protos: "
            "pip install tensorflow-serving-api (its version matching TensorFlow's)."
        ) from error
    return predict_pb2


def predict_request(
    inputs: dict, model_name="model", signature_name="serving_default", version=None
):
    """A gRPC ``PredictRequest`` (``tensorflow-serving-api``) for named inputs.

    Args:
        inputs: ``{input_name: value}``: a list of bytes for the bytes
            signatures, a float array for the pixel ones (fgkeras names the
            input ``image`` in both).
        model_name: the served model's name (``--model_name``). Defaults to "model".
        signature_name: the signature to run. Defaults to "serving_default".
        version: a version to pin, or None for the latest. Defaults to None.

    >>> request = predict_request({"image": [b"abc"]}, model_name="birds")
    >>> request.model_spec.name, list(request.inputs), request.inputs["image"].dtype
    ('birds', ['image'], 7)
    """
    predict_pb2 = _serving_apis()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        if _is_strings(value):  # image bytes, or texts (encoded as UTF-8)
            items = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in value]
            proto = tf.make_tensor_proto(items, dtype=tf.string, shape=[len(items)])
        else:
            proto = tf.make_tensor_proto(np.asarray(value, "float32"))
        request.inputs[name].CopyFrom(proto)
    return request


def _is_strings(value) -> bool:
    items = list(value) if isinstance(value, (list, tuple, np.ndarray)) else []
    return bool(items) and isinstance(items[0], (bytes, str))


def grpc_predict(loaded, request):
    """Answer a ``PredictRequest`` as TF Serving's ``Predict`` RPC would.

    Inputs are decoded with `tf.make_ndarray`, the named signature runs, and
    each output becomes a ``TensorProto`` of the ``PredictResponse``. Bad
    image bytes raise `tf.errors.InvalidArgumentError` (``INVALID_ARGUMENT``).
    """
    predict_pb2 = _serving_apis()
    signature = _signature(loaded, request.model_spec.signature_name or "serving_default")
    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    outputs = signature(**inputs)
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response


def response_arrays(response) -> dict:
    """``{output_name: np.ndarray}`` of a ``PredictResponse``."""
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
