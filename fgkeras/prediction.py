"""Prediction: top-k labels with scores for image files, from any saved model.

`load_predictor` accepts a training run directory, a ``.keras`` file, an
exported SavedModel version folder, or a TF Serving base path (the highest
integer version is used). `predict` reads image files or folders, decodes and
resizes them exactly as the evaluation pipeline does (`fgkeras.data.transforms`),
and returns, per file, the ``top_k`` classes with softmax probabilities.
A file that cannot be read gets an ``error`` entry; the other files go on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings

import numpy as np

SCORE_KEYS = ("probabilities", "probs", "scores", "logits", "predictions")
NAME_FILES = ("class_names.json", "class_names.txt", "labels.txt")


@dataclasses.dataclass
class Predictor:
    """A loaded model ready for images.

    Attributes:
        path: where the model came from (or "<keras.Model>").
        kind: ``"keras"``, ``"savedmodel-bytes"`` or ``"savedmodel-pixels"``.
        fn: callable from a batch (encoded bytes ``[N]`` for
            ``savedmodel-bytes``, else float pixels ``[N, H, W, 3]``) to scores.
        image_size: model input ``(height, width)``; None when any size works.
        class_names: names of the classes, or None.
        resize_size: the run's ``resize_size`` (shorter side before the centre
            crop), or None.
    """

    path: str
    kind: str
    fn: object
    image_size: tuple | None = None
    class_names: list | None = None
    resize_size: int | None = None


def load_predictor(model, class_names=None, resize_size=None) -> Predictor:
    """Load a model for prediction from a path, or wrap a `keras.Model`.

    Args:
        model: a `keras.Model`, a run directory (``model.keras``,
            ``class_names.json`` and ``config.json`` inside), a ``.keras``
            file (``class_names.json`` next to it is used), a SavedModel folder
            or a TF Serving base path with integer version folders.
        class_names: names of the classes; None reads them from the run or
            the SavedModel when available. Defaults to None.
        resize_size: shorter side before the centre crop; None takes the
            run's when loading a run directory. Defaults to None.

    >>> import keras
    >>> net = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
    ...                         keras.layers.Dense(2)])
    >>> p = load_predictor(net, ["cat", "dog"])
    >>> p.kind, p.image_size
    ('keras', (8, 8))
    """
    if not isinstance(model, str | os.PathLike):
        return _keras_predictor(model, "<keras.Model>", class_names, resize_size)
    path = os.fspath(model)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Model not found: {path!r}. Pass a run directory, a .keras file or an "
            "exported SavedModel folder."
        )
    if os.path.isfile(path):
        if not path.endswith(".keras"):
            raise ValueError(f"Expected a .keras file or a folder. Received: {path!r}")
        names = class_names or _read_names(os.path.dirname(path))
        return _keras_predictor(_load_keras(path), path, names, resize_size)
    if os.path.isfile(os.path.join(path, "model.keras")):
        config = _read_json(os.path.join(path, "config.json")) or {}
        names = class_names or _read_names(path)
        size = resize_size if resize_size is not None else config.get("resize_size")
        return _keras_predictor(_load_keras(os.path.join(path, "model.keras")), path, names, size)
    return _saved_model_predictor(_saved_model_dir(path), class_names, resize_size)


def list_image_files(inputs) -> list[str]:
    """Image files named by ``inputs`` (files, or folders searched recursively).

    Files given by name are always kept; inside folders only files with an
    image extension are, in sorted order.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("b.png", "a.JPG", "notes.txt"):
    ...     _ = open(os.path.join(folder, name), "w").write("x")
    >>> [os.path.basename(p) for p in list_image_files([folder])]
    ['a.JPG', 'b.png']
    """
    from fgkeras.data.files import IMAGE_EXTENSIONS

    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    paths = []
    for item in inputs:
        item = os.fspath(item)
        if os.path.isfile(item):
            paths.append(item)
        elif os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs.sort()
                paths.extend(
                    os.path.join(root, name)
                    for name in sorted(files)
                    if name.lower().endswith(IMAGE_EXTENSIONS)
                )
        else:
            raise FileNotFoundError(f"No such image file or folder: {item!r}")
    if not paths:
        raise ValueError(f"No image files found in {[os.fspath(i) for i in inputs]}.")
    return paths


def predict(
    model, inputs, top_k=5, class_names=None, batch_size=32, resize_size=None
) -> list[dict]:
    """Top-k classes with probabilities for each image file.

    Args:
        model: a `Predictor`, a `keras.Model` or a path (see `load_predictor`).
        inputs: image file paths and/or folders (searched recursively).
        top_k: classes per image, clipped to the number of classes. Defaults to 5.
        class_names: override the model's class names. Defaults to None.
        batch_size: images per model call. Defaults to 32.
        resize_size: see `load_predictor`. Defaults to None.

    Returns:
        One dict per file, in input order: ``{"path", "predictions": [{"label",
        "index", "score"}, ...], "error": None}``, or with ``"predictions": []``
        and ``"error"`` saying why the file could not be read.

    >>> import keras, tempfile, tensorflow as tf
    >>> net = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.GlobalAveragePooling2D()])
    >>> folder = tempfile.mkdtemp()
    >>> red = tf.io.encode_png(tf.constant([[[255, 0, 0]]], tf.uint8)).numpy()
    >>> _ = open(os.path.join(folder, "red.png"), "wb").write(red)
    >>> _ = open(os.path.join(folder, "bad.png"), "wb").write(b"not an image")
    >>> out = predict(net, [folder], top_k=1, class_names=["r", "g", "b"])
    >>> [(r["predictions"][:1] and r["predictions"][0]["label"], r["error"]) for r in out]
    [([], 'not an image file'), ('r', None)]
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer. Received: top_k={top_k!r}")
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer. Received: {batch_size!r}")
    predictor = model
    if not isinstance(model, Predictor):
        predictor = load_predictor(model, class_names, resize_size)
    paths = list_image_files(inputs)
    results = {path: {"path": path, "predictions": [], "error": None} for path in paths}
    good = _check_files(paths, results)
    # Without a fixed input size each image is its own batch.
    step = batch_size if predictor.image_size or predictor.kind == "savedmodel-bytes" else 1
    scored = []
    for start in range(0, len(good), step):
        chunk = good[start : start + step]
        scored += zip([path for path, _ in chunk], _score_batch(predictor, chunk, results))
    names = class_names or predictor.class_names  # SavedModels may learn them while scoring
    for path, scores in scored:
        if scores is not None:
            results[path]["predictions"] = top_predictions(scores, names, top_k)
    return [results[path] for path in paths]


def top_predictions(scores, class_names=None, top_k=5) -> list[dict]:
    """The ``top_k`` classes of one score vector, best first.

    Logits are turned into probabilities with a softmax; scores that already
    are probabilities (non-negative, summing to 1) are kept.

    >>> top_predictions([0.1, 0.7, 0.2], ["a", "b", "c"], top_k=2)
    [{'label': 'b', 'index': 1, 'score': 0.7}, {'label': 'c', 'index': 2, 'score': 0.2}]
    """
    probabilities = _to_probabilities(np.asarray(scores, np.float64).reshape(-1))
    order = np.argsort(-probabilities, kind="stable")[: int(top_k)]
    return [
        {
            "label": str(class_names[i]) if class_names is not None else str(i),
            "index": int(i),
            "score": round(float(probabilities[i]), 6),
        }
        for i in order
    ]


def _check_files(paths, results):
    """Mark unreadable files; return ``[(path, decoder)]`` of readable ones."""
    from fgkeras.data.files import check_image_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check = check_image_files(paths, on_error="skip")
    for path, reason in check.bad:
        results[path]["error"] = reason
    return [(p, int(d)) for p, ok, d in zip(paths, check.ok, check.decoder) if ok]


def _score_batch(predictor, chunk, results):
    """Scores for each ``(path, decoder)`` of ``chunk``; None where it failed."""
    import tensorflow as tf

    inputs = []
    for path, decoder in chunk:
        try:
            inputs.append(_prepare(predictor, path, decoder))
        except (tf.errors.OpError, ValueError, OSError) as error:
            results[path]["error"] = f"cannot decode image ({_first_line(error)})"
            inputs.append(None)
    ready = [x for x in inputs if x is not None]
    if not ready:
        return [None] * len(chunk)
    try:
        scores = iter(_call(predictor, ready))
    except tf.errors.OpError:  # find the culprit: one file at a time
        scores = iter(_one_by_one(predictor, chunk, inputs, results))
    return [next(scores) if x is not None else None for x in inputs]


def _one_by_one(predictor, chunk, inputs, results):
    import tensorflow as tf

    for (path, _), x in zip(chunk, inputs):
        if x is None:
            continue
        try:
            yield _call(predictor, [x])[0]
        except tf.errors.OpError as error:
            results[path]["error"] = f"model failed on this image ({_first_line(error)})"
            yield None


def _prepare(predictor, path, decoder):
    """One file → encoded bytes (bytes signatures) or model-size float pixels."""
    import tensorflow as tf

    from fgkeras.data import transforms

    if predictor.kind == "savedmodel-bytes" and decoder == 0:
        return tf.io.read_file(path)
    image = transforms.decode({"path": path, "decoder": decoder})["image"]
    if predictor.kind == "savedmodel-bytes":  # TIFF & co: re-encode for the signature
        return tf.io.encode_png(image)
    if predictor.image_size is None:
        return tf.cast(image, tf.float32)
    height, width = predictor.image_size
    if height != width:  # the pipeline only makes square images; same bilinear resize
        return tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=False)
    example = transforms.resize_example({"image": image}, height, predictor.resize_size)
    return example["image"]


def _call(predictor, inputs):
    import tensorflow as tf

    return np.asarray(predictor.fn(tf.stack(inputs)), np.float64)


def _keras_predictor(model, path, class_names, resize_size):
    shape = model.input_shape
    shape = shape[0] if isinstance(shape, list) else shape
    if len(shape) != 4:
        raise ValueError(f"Expected a model taking images [B, H, W, 3]. Input shape: {shape}")
    size = tuple(shape[1:3]) if None not in shape[1:3] else None
    return Predictor(path, "keras", model.predict_on_batch, size, class_names, resize_size)


def _load_keras(path):
    import keras

    import fgkeras  # noqa: F401  (registers the zoo's custom layers)

    return keras.models.load_model(path, compile=False)


def _saved_model_dir(path):
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = sorted(
        int(name)
        for name in os.listdir(path)
        if name.isdigit() and os.path.isfile(os.path.join(path, name, "saved_model.pb"))
    )
    if not versions:
        raise ValueError(
            f"{path!r} is not a run directory (no model.keras), a SavedModel (no "
            "saved_model.pb) or a TF Serving base path (no integer version folders)."
        )
    return os.path.join(path, str(versions[-1]))


def _saved_model_predictor(path, class_names, resize_size):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    kind, name, fn = _pick_signature(loaded.signatures, path)
    spec = fn.structured_input_signature[1][name]
    size = tuple(spec.shape[1:3]) if spec.shape.rank == 4 and None not in spec.shape[1:3] else None
    names = class_names or _read_names(path) or _read_names(os.path.dirname(path))
    predictor = Predictor(path, kind, None, size, names, resize_size)

    learned = {}  # index -> name, from signatures returning top-k names

    def call(batch):
        outputs = fn(**{name: batch})
        scores = _score_output(outputs, path)
        if names is None and "top_k_indices" in outputs and "top_k_names" in outputs:
            indices = outputs["top_k_indices"].numpy().reshape(-1)
            labels = outputs["top_k_names"].numpy().reshape(-1)
            learned.update({int(i): n.decode() for i, n in zip(indices, labels)})
            predictor.class_names = [learned.get(i, str(i)) for i in range(scores.shape[-1])]
        return scores

    predictor.fn = call
    return predictor


def _pick_signature(signatures, path):
    """Prefer a signature with one tf.string input, then ``serving_default``."""
    import tensorflow as tf

    candidates = []
    for key, fn in signatures.items():
        inputs = fn.structured_input_signature[1]
        outputs = fn.structured_outputs
        if len(inputs) != 1 or not any(k in outputs for k in SCORE_KEYS):
            continue
        ((name, spec),) = inputs.items()
        if spec.dtype == tf.string and spec.shape.rank == 1:
            candidates.append((0, key != "serving_default", key, "savedmodel-bytes", name))
        elif spec.dtype.is_floating and spec.shape.rank == 4:
            candidates.append((1, key != "serving_default", key, "savedmodel-pixels", name))
    if not candidates:
        raise ValueError(
            f"SavedModel {path!r} has no signature taking image bytes or pixels and "
            f"returning scores. Signatures: {sorted(signatures)}"
        )
    _, _, key, kind, name = min(candidates)
    return kind, name, signatures[key]


def _score_output(outputs, path):
    for key in SCORE_KEYS:
        if key in outputs:
            return outputs[key].numpy()
    raise ValueError(f"SavedModel {path!r} returned no scores: {sorted(outputs)}")


def _read_names(folder):
    for name in NAME_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            if name.endswith(".json"):
                return [str(n) for n in _read_json(path)]
            with open(path) as f:
                return [line.rstrip("\n") for line in f if line.strip()]
    assets = os.path.join(folder, "assets")
    return _read_names(assets) if os.path.isdir(assets) else None


def _read_json(path):
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _to_probabilities(scores):
    if np.all(scores >= 0) and abs(scores.sum() - 1.0) < 1e-3:
        return scores
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


def _first_line(error):
    text = getattr(error, "message", None) or str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
