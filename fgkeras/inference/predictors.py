"""Load any saved model of the zoo as a `Predictor` for `fgkeras.inference.prediction`.

A run directory, a ``.keras`` file, an exported SavedModel version folder or
a TF Serving base path (highest integer version). SavedModel signatures are
detected generically: one taking encoded image bytes (tf.string ``[N]``) is
preferred, else one taking float pixels ``[N, H, W, 3]``; scores come from
its ``probabilities`` (or ``logits``, ...) output.
"""

from __future__ import annotations

import dataclasses
import json
import os

from fgkeras.training.run_dir import RunDirectory, load_keras_model

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
        return _keras_predictor(load_keras_model(path), path, names, resize_size)
    if os.path.isfile(os.path.join(path, "model.keras")):
        run = RunDirectory(path)
        names = class_names or run.class_names
        size = resize_size if resize_size is not None else run.config.get("resize_size")
        return _keras_predictor(run.load_model("final"), path, names, size)
    return _saved_model_predictor(_saved_model_dir(path), class_names, resize_size)


def _keras_predictor(model, path, class_names, resize_size):
    shape = model.input_shape
    shape = shape[0] if isinstance(shape, list) else shape
    if len(shape) != 4:
        raise ValueError(f"Expected a model taking images [B, H, W, 3]. Input shape: {shape}")
    size = tuple(shape[1:3]) if None not in shape[1:3] else None
    return Predictor(path, "keras", model.predict_on_batch, size, class_names, resize_size)


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
