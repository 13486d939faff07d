"""Prediction: top-k labels with scores for image files, from any saved model.

`load_predictor` accepts a training run directory, a ``.keras`` file, an
exported SavedModel version folder, or a TF Serving base path (the highest
integer version is used). `predict` reads image files or folders, decodes and
resizes them exactly as the evaluation pipeline does (`fgkeras.inference.images`,
built on `fgkeras.data.transforms`), and returns, per file, the ``top_k``
classes with softmax probabilities, or, with ``signature="nearest"`` on a
SavedModel exported with a gallery, the nearest gallery classes with their
cosine distances. A file that cannot be read, or whose header declares more
pixels than the limit, gets an ``error`` entry; the other files go on.
"""

from __future__ import annotations

import os

import numpy as np

from fgkeras.checks import check_int
from fgkeras.inference.images import check_images, encoded_image, load_image
from fgkeras.inference.predictors import Predictor, load_predictor

__all__ = ["Predictor", "list_image_files", "load_predictor", "predict", "top_predictions"]


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
    model,
    inputs,
    top_k=5,
    class_names=None,
    batch_size=32,
    resize_size=None,
    max_pixels=None,
    signature=None,
    side=None,
    tta=None,
) -> list[dict]:
    """Top-k classes with probabilities (or nearest gallery classes) for each image file.

    Args:
        model: a `Predictor`, a `keras.Model` or a path (see `load_predictor`).
        inputs: image file paths and/or folders (searched recursively).
        top_k: classes per image, clipped to the number of classes. Defaults to 5.
        class_names: override the model's (classifier's) class names. Defaults to None.
        batch_size: images per model call. Defaults to 32.
        resize_size: see `load_predictor`. Defaults to None.
        max_pixels: files whose header declares more pixels (width × height)
            get an error and are never decoded; None takes
            ``$FGKERAS_MAX_IMAGE_PIXELS`` or 89,478,485. Defaults to None.
        signature: for a SavedModel path, the signature to run: None the
            classifier; "nearest" the gallery exported with the model
            (``fgkeras export --gallery``), whose classes and names are its
            own and may include classes the classifier never saw. Defaults
            to None.
        side: for a model with a side input (``attribute_guided``), the side
            vector ``[A]`` known for every image (NaN = unknown entry); None:
            nothing known (see `load_predictor`). Defaults to None.
        tta: None, or "flip": each image's scores are the mean softmax of
            the image and its horizontal mirror (`fgkeras.models.tta`). A
            SavedModel must have been exported with ``tta="flip"``. Defaults
            to None.

    Returns:
        One dict per file, in input order: ``{"path", "predictions": [{"label",
        "index", "score"}, ...], "error": None}`` (with "nearest": ``{"label",
        "index", "distance"}``, nearest first, ``distance`` = 1 - cosine
        similarity, at most the export's top-k), or with ``"predictions": []``
        and ``"error"`` saying why the file could not be read (for too large
        an image: ``"image too large: its header declares WxH = N pixels,
        more than the limit of L (...)"``).

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
    check_int("top_k", top_k)
    check_int("batch_size", batch_size)
    predictor = model
    if not isinstance(model, Predictor):
        predictor = load_predictor(model, class_names, resize_size, signature, side, tta)
    elif signature is not None or side is not None or tta is not None:
        raise ValueError(
            "signature=, side= and tta= select what to load; this model is already a "
            "Predictor. Pass them to load_predictor(path, signature=..., side=..., tta=...) "
            "instead."
        )
    paths = list_image_files(inputs)
    results = {path: {"path": path, "predictions": [], "error": None} for path in paths}
    good = _check_files(paths, results, max_pixels)
    # Without a fixed input size each image is its own batch.
    step = batch_size if predictor.image_size or predictor.kind == "savedmodel-bytes" else 1
    scored = []
    for start in range(0, len(good), step):
        chunk = good[start : start + step]
        scores = _score_batch(predictor, chunk, results, max_pixels)
        scored += zip([path for path, _ in chunk], scores)
    names = class_names or predictor.class_names  # SavedModels may learn them while scoring
    for path, scores in scored:
        if scores is None:
            continue
        if predictor.task == "nearest":  # already ranked by the signature, with its names
            results[path]["predictions"] = list(scores[:top_k])
        else:
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


def _check_files(paths, results, max_pixels):
    """Mark unreadable files; return ``[(path, decoder)]`` of readable ones."""
    good = []
    for checked in check_images(paths, max_pixels):
        if checked.error is None:
            good.append((checked.path, checked.decoder))
        else:
            results[checked.path]["error"] = checked.error
    return good


def _score_batch(predictor, chunk, results, max_pixels):
    """Scores for each ``(path, decoder)`` of ``chunk``; None where it failed."""
    import tensorflow as tf

    inputs = []
    for path, decoder in chunk:
        try:
            inputs.append(_prepare(predictor, path, decoder, max_pixels))
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


def _prepare(predictor, path, decoder, max_pixels):
    """One file → encoded bytes (bytes signatures) or model-size float pixels."""
    if predictor.kind == "savedmodel-bytes":  # the signature decodes; TIFF & co as PNG
        return encoded_image(path, decoder)
    size, resize_size = predictor.image_size, predictor.resize_size
    if size is not None and size[0] != size[1]:
        resize_size = None  # a centre crop needs a square input: resize the whole image
    return load_image(path, size, resize_size, decoder=decoder, max_pixels=max_pixels)


def _call(predictor, inputs):
    import tensorflow as tf

    out = predictor.fn(tf.stack(inputs))
    return out if predictor.task == "nearest" else np.asarray(out, np.float64)


def _to_probabilities(scores):
    if np.all(scores >= 0) and abs(scores.sum() - 1.0) < 1e-3:
        return scores
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


def _first_line(error):
    text = getattr(error, "message", None) or str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
