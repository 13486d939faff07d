"""Load any saved model of the zoo as a `Predictor` for `fgkeras.inference.prediction`.

A run directory, a ``.keras`` file, an exported SavedModel version folder or
a TF Serving base path (highest integer version). SavedModel signatures are
detected generically: one taking encoded image bytes (tf.string ``[N]``) is
preferred, else one taking float pixels ``[N, H, W, 3]``; scores come from
its ``probabilities`` (or ``logits``, ...) output. ``signature="nearest"``
picks instead the gallery signature of a SavedModel exported with a gallery
(``fgkeras export --gallery``): the nearest gallery classes and their cosine
distances, names from the signature (``assets/gallery_class_names.txt``).

``tta="flip"`` (test-time augmentation, `fgkeras.models.tta`) scores each
image and its horizontal mirror and returns the mean of the two softmaxes:
a Keras model runs both views here; a SavedModel must have been exported
with ``tta="flip"`` (its ``assets/model_card.json`` says ``export.tta``),
whose classifying signatures average the views in the graph.
"""

from __future__ import annotations

import dataclasses
import json
import os

from fgkeras.models.common import side_inputs, with_side_inputs
from fgkeras.models.tta import check_tta, mean_probabilities, tta_views
from fgkeras.training.run_dir import RunDirectory, load_keras_model

SCORE_KEYS = ("probabilities", "probs", "scores", "logits", "predictions")
NEAREST_KEYS = ("nearest_names", "nearest_distances")
NAME_FILES = ("class_names.json", "class_names.txt", "labels.txt")
GALLERY_NAME_FILES = ("gallery_class_names.json", "gallery_class_names.txt")
SIDE_INPUTS = ("attributes",)  # signature inputs that are side vectors (attribute_guided)


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
        task: ``"classify"`` (``fn`` returns scores ``[N, C]``) or
            ``"nearest"`` (``fn`` returns, per image, a list of
            ``{"label", "index", "distance"}``, nearest first).
        gallery_class_names: the class names of the SavedModel's gallery, or None.
        saved_model: the loaded SavedModel, kept alive while ``fn`` is used.
        side_inputs: ``{name: width}`` of the model's side inputs
            (``attribute_guided``), else empty.
        tta: the test-time augmentation ``fn`` applies: None or "flip"
            (scores are then the mean probabilities of the image and its mirror).
    """

    path: str
    kind: str
    fn: object
    image_size: tuple | None = None
    class_names: list | None = None
    resize_size: int | None = None
    task: str = "classify"
    gallery_class_names: list | None = None
    saved_model: object = None
    side_inputs: dict = dataclasses.field(default_factory=dict)
    tta: str | None = None


def load_predictor(
    model, class_names=None, resize_size=None, signature=None, side=None, tta=None
) -> Predictor:
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
        signature: the SavedModel signature to run: None picks the classifier
            (see the module docstring); "nearest" the gallery signature.
            SavedModels only. Defaults to None.
        side: for a model with a side input (``attribute_guided``), one side
            vector ``[A]`` for every image (NaN = unknown entry); None:
            nothing known. Defaults to None.
        tta: test-time augmentation of the classifier: None, or "flip" (the
            mean softmax of each image and its horizontal mirror). A Keras
            model runs both views; a SavedModel must have been exported with
            ``tta="flip"``, else this is a ValueError saying to re-export it.
            Defaults to None.

    >>> import keras
    >>> net = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
    ...                         keras.layers.Dense(2)])
    >>> p = load_predictor(net, ["cat", "dog"])
    >>> p.kind, p.image_size
    ('keras', (8, 8))
    >>> load_predictor(net, ["cat", "dog"], tta="flip").tta
    'flip'
    """
    tta = check_tta(tta)
    if tta is not None and signature == "nearest":
        raise ValueError(
            f"tta={tta!r} averages the classifier's probabilities over views; the 'nearest' "
            "signature ranks gallery classes by the embedding of the image alone. Leave tta "
            "unset with signature='nearest'."
        )
    if not isinstance(model, str | os.PathLike):
        _no_signature(signature, "<keras.Model>")
        return _keras_predictor(model, "<keras.Model>", class_names, resize_size, side, tta)
    path = os.fspath(model)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Model not found: {path!r}. Pass a run directory, a .keras file or an "
            "exported SavedModel folder."
        )
    if os.path.isfile(path):
        if not path.endswith(".keras"):
            raise ValueError(f"Expected a .keras file or a folder. Received: {path!r}")
        _no_signature(signature, path)
        names = class_names or _read_names(os.path.dirname(path))
        return _keras_predictor(load_keras_model(path), path, names, resize_size, side, tta)
    if os.path.isfile(os.path.join(path, "model.keras")):
        _no_signature(signature, path)
        run = RunDirectory(path)
        names = class_names or run.class_names
        size = resize_size if resize_size is not None else run.config.get("resize_size")
        return _keras_predictor(run.load_model("final"), path, names, size, side, tta)
    return _saved_model_predictor(
        _saved_model_dir(path), class_names, resize_size, signature, side, tta
    )


def _no_signature(signature, path):
    if signature is not None:
        raise ValueError(
            f"signature={signature!r} selects a signature of an exported SavedModel, and "
            f"{path!r} is a Keras model. Export it (for 'nearest': fgkeras export RUN "
            "--gallery DIR) and predict with the SavedModel folder."
        )


def _keras_predictor(model, path, class_names, resize_size, side=None, tta=None):
    shape = model.input_shape
    shape = shape[0] if isinstance(shape, list) else shape
    if len(shape) != 4:
        raise ValueError(f"Expected a model taking images [B, H, W, 3]. Input shape: {shape}")
    size = tuple(shape[1:3]) if None not in shape[1:3] else None
    wanted = side_inputs(model)
    if not wanted:
        _no_side(side, path)
        if tta is None:
            return Predictor(path, "keras", model.predict_on_batch, size, class_names, resize_size)

    def call(batch):
        inputs = with_side_inputs(model, batch, side) if wanted else batch
        # Only the image is mirrored; the side vector goes to both views.
        scores = [model.predict_on_batch(view) for view in tta_views(inputs, tta)]
        return scores[0] if tta is None else mean_probabilities(scores)

    predictor = Predictor(path, "keras", call, size, class_names, resize_size, tta=tta)
    predictor.side_inputs = wanted
    return predictor


def _no_side(side, path):
    if side is not None:
        raise ValueError(
            f"side= is the side vector of a model with a side input (attribute_guided), and "
            f"{path!r} takes images only."
        )


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


def _exported_tta(path):
    """The ``export.tta`` of a SavedModel's ``assets/model_card.json`` (None when absent)."""
    card = _read_json(os.path.join(path, "assets", "model_card.json"))
    export = card.get("export") if isinstance(card, dict) else None
    return export.get("tta") if isinstance(export, dict) else None


def _check_exported_tta(path, tta):
    """What the SavedModel's classifier does: its exported TTA; refuse a TTA it lacks."""
    exported = _exported_tta(path)
    if tta is not None and exported != tta:
        how = "without test-time augmentation" if exported is None else f"with tta={exported!r}"
        raise ValueError(
            f"tta={tta!r}: the SavedModel {path!r} was exported {how} "
            "(assets/model_card.json, export.tta), and its signatures cannot add it. Re-export "
            f"it with `fgkeras export RUN --tta {tta}` (fgkeras.export(..., tta={tta!r})), or "
            "predict with the run directory or .keras file."
        )
    return exported


def _saved_model_predictor(path, class_names, resize_size, signature=None, side=None, tta=None):
    import tensorflow as tf

    exported_tta = _check_exported_tta(path, tta)
    loaded = tf.saved_model.load(path)
    if signature is None:
        kind, name, fn = _pick_signature(loaded.signatures, path)
    else:
        kind, name, fn = _named_signature(loaded.signatures, signature, path)
    inputs = fn.structured_input_signature[1]
    spec = inputs[name]
    wanted = {key: int(value.shape[-1]) for key, value in inputs.items() if key != name}
    if not wanted:
        _no_side(side, path)
    side_feed = _side_feed(wanted, side)
    size = tuple(spec.shape[1:3]) if spec.shape.rank == 4 and None not in spec.shape[1:3] else None
    names = class_names or _read_names(path) or _read_names(os.path.dirname(path))
    predictor = Predictor(path, kind, None, size, names, resize_size, saved_model=loaded)
    predictor.side_inputs = wanted
    predictor.gallery_class_names = _read_names(path, GALLERY_NAME_FILES)
    if all(key in fn.structured_outputs for key in NEAREST_KEYS):
        predictor.task = "nearest"
        predictor.fn = lambda batch: _nearest_rows(fn(**{name: batch}, **side_feed))
        return predictor
    predictor.tta = exported_tta  # the classifying signatures average the views in the graph

    learned = {}  # index -> name, from signatures returning top-k names

    def call(batch):
        outputs = fn(**{name: batch}, **side_feed)
        scores = _score_output(outputs, path)
        if names is None and "top_k_indices" in outputs and "top_k_names" in outputs:
            indices = outputs["top_k_indices"].numpy().reshape(-1)
            labels = outputs["top_k_names"].numpy().reshape(-1)
            learned.update({int(i): n.decode() for i, n in zip(indices, labels)})
            predictor.class_names = [learned.get(i, str(i)) for i in range(scores.shape[-1])]
        return scores

    predictor.fn = call
    return predictor


def _side_feed(wanted, side):
    """The side inputs of a signature call: ``side`` as one row for every image, or unknown."""
    import numpy as np
    import tensorflow as tf

    if side is not None and not isinstance(side, dict):
        side = {next(iter(wanted)): side} if len(wanted) == 1 else None
        if side is None:
            raise ValueError(f"Pass side= as a dict keyed by the side inputs {sorted(wanted)}.")
    feed = {}
    for key, width in wanted.items():
        values = np.asarray((side or {}).get(key, np.full(width, np.nan)), np.float32)
        if values.shape != (width,):
            raise ValueError(
                f"The side input {key!r} takes one vector of {width} values for every image. "
                f"Received shape {values.shape}."
            )
        feed[key] = tf.constant(values[None, :])
    return feed


def _image_input(inputs):
    """``(name, spec)`` of a signature's one image input, if every other input is a
    side vector (float ``[N, A]`` named in `SIDE_INPUTS`); else None."""
    import tensorflow as tf

    images = [
        (name, spec)
        for name, spec in inputs.items()
        if (spec.dtype == tf.string and spec.shape.rank == 1)
        or (spec.dtype.is_floating and spec.shape.rank == 4)
    ]
    sides = [
        spec
        for name, spec in inputs.items()
        if name in SIDE_INPUTS and spec.dtype.is_floating and spec.shape.rank == 2
    ]
    return images[0] if len(images) == 1 and len(images) + len(sides) == len(inputs) else None


def _pick_signature(signatures, path):
    """Prefer a signature with one tf.string input, then ``serving_default``."""
    import tensorflow as tf

    candidates = []
    for key, fn in signatures.items():
        inputs = fn.structured_input_signature[1]
        outputs = fn.structured_outputs
        image = _image_input(inputs)
        if image is None or not any(k in outputs for k in SCORE_KEYS):
            continue
        name, spec = image
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


def _named_signature(signatures, signature, path):
    """``(kind, input name, function)`` of the signature called ``signature``."""
    import tensorflow as tf

    if signature not in signatures:
        hint = (
            " It was exported without a gallery: re-export it with "
            "`fgkeras export RUN --gallery DIR` (or fgkeras.export(..., gallery=...))."
            if signature == "nearest"
            else ""
        )
        raise ValueError(
            f"SavedModel {path!r} has no signature {signature!r}.{hint} "
            f"Signatures: {sorted(signatures)}"
        )
    fn = signatures[signature]
    inputs = fn.structured_input_signature[1]
    outputs = fn.structured_outputs
    usable = any(k in outputs for k in SCORE_KEYS) or all(k in outputs for k in NEAREST_KEYS)
    image = _image_input(inputs)
    if image is not None and usable:
        name, spec = image
        if spec.dtype == tf.string and spec.shape.rank == 1:
            return "savedmodel-bytes", name, fn
        if spec.dtype.is_floating and spec.shape.rank == 4:
            return "savedmodel-pixels", name, fn
    raise ValueError(
        f"Signature {signature!r} of {path!r} does not take one image input (bytes [N] or "
        f"pixels [N, H, W, 3]) and return scores or nearest classes: inputs "
        f"{sorted(inputs)}, outputs {sorted(outputs)}."
    )


def _nearest_rows(outputs):
    """The ``nearest`` signature's outputs as, per image, ``[{"label", "index", "distance"}]``."""
    names = outputs["nearest_names"].numpy()
    distances = outputs["nearest_distances"].numpy()
    indices = outputs["nearest_indices"].numpy() if "nearest_indices" in outputs else None
    return [
        [
            {
                "label": names[i, j].decode("utf-8"),
                "index": int(indices[i, j]) if indices is not None else None,
                "distance": round(float(distances[i, j]), 6),
            }
            for j in range(names.shape[1])
        ]
        for i in range(names.shape[0])
    ]


def _score_output(outputs, path):
    for key in SCORE_KEYS:
        if key in outputs:
            return outputs[key].numpy()
    raise ValueError(f"SavedModel {path!r} returned no scores: {sorted(outputs)}")


def _read_names(folder, files=NAME_FILES):
    for name in files:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            if name.endswith(".json"):
                return [str(n) for n in _read_json(path)]
            with open(path) as f:
                return [line.rstrip("\n") for line in f if line.strip()]
    assets = os.path.join(folder, "assets")
    return _read_names(assets, files) if os.path.isdir(assets) else None


def _read_json(path):
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)
