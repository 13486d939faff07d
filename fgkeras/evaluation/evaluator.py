"""Evaluation: top-k accuracy, per-class accuracy, confusion and its worst pairs.

Three layers, each usable on its own:

- `metrics_from_predictions` turns labels and scores (NumPy arrays) into the
  metrics dict; pure, no TensorFlow, so it is exact and easy to test.
- `evaluate` runs a model over a batched ``(images, labels)`` dataset and, with
  ``out_dir``, writes ``metrics.json``, ``predictions.npz`` and the figures of
  `fgkeras.evaluation.plots`; with ``retrieval=True`` it also scores the
  model's embeddings with `fgkeras.evaluation.retrieval.retrieval_metrics`;
  with ``tta="flip"`` it adds a separate ``"tta"`` block scored on each image
  and its mirror (`fgkeras.evaluation.tta`).
- `evaluate_run` re-creates the evaluation split of a training run directory
  from its ``config.json`` and evaluates its final or best model.

In fine-grained recognition most errors fall between a few look-alike classes,
so besides accuracy the report lists the *most-confused pairs*: ordered
``(true class, predicted class)`` cells of the confusion matrix, largest first.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from fgkeras.evaluation.attributes import attribute_metrics
from fgkeras.evaluation.hierarchy import hierarchy_metrics
from fgkeras.evaluation.metrics import metrics_from_predictions, most_confused_pairs
from fgkeras.evaluation.retrieval import retrieval_metrics
from fgkeras.evaluation.tta import FlippedView, predict_with_mirror, tta_metrics
from fgkeras.models.common import side_inputs, with_side_inputs
from fgkeras.models.heads import embedding_model
from fgkeras.models.tta import check_tta

__all__ = [
    "collect_outputs",
    "evaluate",
    "evaluate_run",
    "metrics_from_predictions",
    "metrics_to_json",
    "most_confused_pairs",
    "predict_dataset",
    "write_report",
]

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npz"


def predict_dataset(model, dataset):
    """Run ``model`` over a batched ``(inputs, labels, ...)`` dataset.

    Returns:
        ``(labels int32 [N], scores float32 [N, C])`` as NumPy arrays.

    >>> import keras, tensorflow as tf
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Identity()])
    >>> ds = tf.data.Dataset.from_tensor_slices(([[1., 0.], [0., 1.]], [0, 0])).batch(1)
    >>> labels, scores = predict_dataset(model, ds)
    >>> labels.tolist(), scores.argmax(axis=1).tolist()
    ([0, 0], [0, 1])
    """
    labels, outputs = collect_outputs(model, dataset)
    if len(outputs) != 1:
        raise ValueError(
            f"evaluate needs a model with one output, the [B, C] scores. "
            f"Received a model with {len(outputs)} outputs."
        )
    return labels, outputs[0]


def collect_outputs(model, dataset, features=None):
    """Labels and every output of ``model`` over a batched ``(inputs, labels, ...)`` dataset.

    The model is called directly with ``training=False``; one-hot labels
    become class indices.

    Args:
        model: a callable Keras model.
        dataset: batched ``(inputs, labels, ...)``.
        features: names of input features (``inputs`` is then a dict, e.g.
            ``"attributes"``) to return as well, or None. Defaults to None.

    Returns:
        ``(labels int32 [N], [output float32 [N, ...], ...])``: one array per
        model output, in the model's output order; with ``features`` a third
        item, ``{name: array [N, ...]}``.

    >>> import keras, tensorflow as tf
    >>> x = keras.Input((2,))
    >>> model = keras.Model(x, [x, 2 * x])
    >>> ds = tf.data.Dataset.from_tensor_slices(([[1., 0.], [0., 1.]], [0, 1])).batch(1)
    >>> labels, (a, b) = collect_outputs(model, ds)
    >>> labels.tolist(), b.tolist()
    ([0, 1], [[2.0, 0.0], [0.0, 2.0]])
    """
    all_labels, all_outputs = [], []
    found = {name: [] for name in features or ()}
    for element in dataset:
        if not isinstance(element, tuple | list) or len(element) < 2:
            raise ValueError(
                "evaluate needs a dataset of (images, labels) batches. "
                f"Received elements of type {type(element).__name__}."
            )
        inputs, labels = element[0], element[1]
        for name, column in found.items():
            if not isinstance(inputs, dict) or name not in inputs:
                raise ValueError(f"The evaluation dataset has no {name!r} feature.")
            column.append(np.asarray(inputs[name]))
        # A direct call, not predict_on_batch: under a tf.distribute strategy the
        # latter splits and re-gathers the batch, returning replicas x the rows.
        outputs = model(with_side_inputs(model, inputs), training=False)
        outputs = list(outputs) if isinstance(outputs, tuple | list) else [outputs]
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] > 1:  # one-hot labels
            labels = labels.argmax(axis=1)
        all_outputs.append([np.asarray(output, np.float32) for output in outputs])
        all_labels.append(labels.reshape(-1).astype(np.int32))
    if not all_outputs:
        raise ValueError("The evaluation dataset is empty: no batches to evaluate.")
    columns = [np.concatenate(column) for column in zip(*all_outputs)]
    if features is not None:
        values = {name: np.concatenate(column) for name, column in found.items()}
        return np.concatenate(all_labels), columns, values
    return np.concatenate(all_labels), columns


def evaluate(
    model,
    dataset,
    class_names=None,
    out_dir=None,
    top_k=5,
    history_csv=None,
    retrieval=False,
    label_tree=None,
    tta=None,
) -> dict:
    """Evaluate a model on a dataset; optionally write the report files.

    Args:
        model: a `keras.Model` (or any callable) returning ``[B, C]`` scores.
        dataset: batched ``tf.data.Dataset`` (or iterable) of ``(images, labels)``.
        class_names: ``C`` names; None takes ``dataset.class_names`` when
            present, else ``"0"``, ``"1"``, ... Defaults to None.
        out_dir: folder for ``metrics.json``, ``predictions.npz`` and the
            figures; None writes nothing. Defaults to None.
        top_k: the k of top-k accuracy. Defaults to 5.
        history_csv: a Keras ``CSVLogger`` file to plot as training curves
            (only with ``out_dir``). Defaults to None.
        retrieval: also compute the retrieval metrics of the model's
            embeddings (its "embedding" or else "pooler" layer, in the same
            pass as the predictions) under ``"retrieval"`` (see
            `fgkeras.evaluation.retrieval.retrieval_metrics`); with ``out_dir``
            the embeddings go into ``predictions.npz`` and a 2-D projection
            into ``embedding_projection.png``. Needs a functional Keras model.
            Defaults to False.
        label_tree: the class hierarchy for the ``hierarchy`` metrics (a
            `fgkeras.data.label_tree.LabelTree`, its config or a
            ``{child: parent}`` map); None takes the dataset's
            (``dataset.source_info["class_ancestors"]``), else the model's
            own (``hierarchical``), else there are none. Defaults to None.
        tta: test-time augmentation: None, or "flip" to add a separate
            ``"tta"`` block (``mode``, ``top1_accuracy``, ``top_k``,
            ``top_k_accuracy``, ``mean_per_class_accuracy``) scored on the
            mean softmax of each image and its horizontal mirror (see
            `fgkeras.evaluation.tta`); every other number stays single-view.
            Defaults to None.

    Returns:
        The dict of `metrics_from_predictions`, plus ``tta`` when asked,
        ``retrieval`` when asked,
        ``hierarchy`` when there is a label tree (per-level accuracy, mistake
        severity; see `fgkeras.evaluation.hierarchy.hierarchy_metrics`; with
        the model's own per-level heads when it has "level_logits_*" layers)
        and ``files`` (name to path of each file written) when ``out_dir`` is
        given.

    >>> import keras, tensorflow as tf
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
    >>> ds = tf.data.Dataset.from_tensor_slices(([[3., 1, 0], [0, 1, 2]], [0, 1])).batch(2)
    >>> m = evaluate(model, ds, ["a", "b", "c"], top_k=2)
    >>> m["top1_accuracy"], m["top_k_accuracy"], m["most_confused"][0]["predicted"]
    (0.5, 1.0, 'c')
    """
    tta = check_tta(tta)
    if class_names is None:
        class_names = getattr(dataset, "class_names", None)
    tree = hierarchy_tree(label_tree, dataset, model, class_names)
    heads = level_layers(model) if tree is not None else []
    attribute_head = _attribute_layer(model, dataset)
    text_embedding = _joint_embedding_layer(model, dataset)
    embeddings = level_scores = attribute_scores = joint = mirrored = None
    if retrieval or heads or attribute_head is not None or text_embedding is not None:
        views = _with_embeddings(model) if retrieval else model
        if heads:
            views = _with_levels(views, heads)
        extra = [x for x in (attribute_head, text_embedding) if x is not None]
        if extra:
            views = _with_levels(views, extra)
        features = ["attributes"] if attribute_head is not None else []
        features += ["text"] if text_embedding is not None else []
        if tta is not None:  # the mirror's logits come last, from the same pass
            views = FlippedView(views, model)
        labels, outputs, *found = collect_outputs(views, dataset, features or None)
        if tta is not None:
            mirrored, outputs = outputs[-1], outputs[:-1]
        scores = outputs[0]
        if retrieval:
            embeddings = outputs[1].reshape(len(outputs[1]), -1)
        if text_embedding is not None:
            joint, outputs = outputs[-1], outputs[:-1]
        if attribute_head is not None:
            attribute_scores, outputs = outputs[-1], outputs[:-1]
        if heads:
            level_scores = outputs[-len(heads) :] + [scores]
    elif tta is not None:
        labels, scores, mirrored = predict_with_mirror(model, dataset)
    else:
        labels, scores = predict_dataset(model, dataset)
    metrics = metrics_from_predictions(labels, scores, class_names, top_k=top_k)
    if tta is not None:
        metrics["tta"] = tta_metrics(labels, scores, mirrored, class_names, top_k, tta)
    if joint is not None:
        metrics["image_text"] = image_text_retrieval(model, joint, found[0]["text"], labels)
    if attribute_scores is not None:
        metrics["attributes"] = attribute_metrics(
            found[0]["attributes"], attribute_scores, getattr(model, "attribute_names", None)
        )
    if retrieval:
        metrics["retrieval"] = retrieval_metrics(embeddings, labels)
    if any(_has_feature(dataset, name) for name in side_inputs(model)):
        metrics["side_input"] = side_input_metrics(model, dataset, labels, scores, class_names)
    if tree is not None:
        if level_scores is not None and len(level_scores) != tree.num_levels:
            level_scores = None  # the model's tree is not the data's: no per-head metrics
        metrics["hierarchy"] = hierarchy_metrics(labels, scores, tree, level_scores)
    if out_dir is not None:
        metrics["files"] = write_report(
            metrics, out_dir, labels, scores, history_csv, embeddings=embeddings
        )
    return metrics


def side_input_metrics(model, dataset, labels, scores, class_names=None) -> dict:
    """Accuracy of a side-input model with its side vector and with it hidden.

    "with" scores the dataset's side features as given; "without" runs the
    same images with every side entry unknown (NaN), what a user without
    the metadata gets.

    Returns:
        ``{"inputs": [...], "with": {...}, "without": {...}}``, each with
        ``top1_accuracy`` and ``mean_per_class_accuracy``.
    """
    names = set(side_inputs(model))

    def hidden(x, training=False):
        if isinstance(x, dict):
            x = {key: value for key, value in x.items() if key not in names}
        return model(with_side_inputs(model, x), training=training)

    hidden_labels, (hidden_scores,) = collect_outputs(hidden, dataset)

    def summary(labels, scores):
        found = metrics_from_predictions(labels, scores, class_names, top_k=1)
        return {key: found[key] for key in ("top1_accuracy", "mean_per_class_accuracy")}

    return {
        "inputs": sorted(names),
        "with": summary(labels, scores),
        "without": summary(hidden_labels, hidden_scores),
    }


def hierarchy_tree(label_tree, dataset, model, class_names):
    """The `LabelTree` of an evaluation: given, else the dataset's, else the model's; or None.

    A tree whose classes do not match ``class_names`` (in number, or by
    name when the tree has names) is dropped with a warning.
    """
    from fgkeras.data.label_tree import LabelTree, resolve_label_tree

    names = None if class_names is None else [str(n) for n in class_names]
    if label_tree is not None:
        tree = resolve_label_tree(label_tree, names)
    else:
        info = getattr(dataset, "source_info", None) or {}
        found = getattr(dataset, "class_names", None) or names
        tree = LabelTree.from_source_info(info, found) if found is not None else None
        if tree is None:
            tree = getattr(model, "label_tree", None)
            tree = tree if isinstance(tree, LabelTree) and tree.num_levels > 1 else None
    if tree is None or names is None or tree.class_names == names:
        return tree
    if len(names) == tree.num_classes:  # e.g. a model's tree with placeholder names
        return tree
    warnings.warn(
        f"No hierarchy metrics: the label tree has {tree.num_classes} classes and the "
        f"evaluation {len(names)}.",
        stacklevel=3,
    )
    return None


def image_text_retrieval(model, image_embeddings, texts, labels, ks=(1, 5, 10)) -> dict:
    """Image → text and text → image retrieval of a dual encoder, relevance = same class.

    Each image queries the texts of the evaluation set (the descriptions of
    all its images), and each text the images, with `retrieval_metrics`
    (Recall@K, MAP@R; ranked by cosine similarity in the joint space).
    """
    texts = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in texts.reshape(-1)]
    text_embeddings = np.concatenate(
        [np.asarray(model.embed_text(texts[i : i + 256])) for i in range(0, len(texts), 256)]
    )
    return {
        "image_to_text": retrieval_metrics(
            image_embeddings, labels, ks=ks, gallery=text_embeddings, gallery_labels=labels
        ),
        "text_to_image": retrieval_metrics(
            text_embeddings, labels, ks=ks, gallery=image_embeddings, gallery_labels=labels
        ),
    }


def _joint_embedding_layer(model, dataset):
    """A dual encoder's image "embedding" layer when the dataset carries texts, else None."""
    if not callable(getattr(model, "embed_text", None)) or not _has_feature(dataset, "text"):
        return None
    return next((x for x in model.layers if x.name == "embedding"), None)


def _has_feature(dataset, name) -> bool:
    spec = getattr(dataset, "element_spec", None)
    inputs = spec[0] if isinstance(spec, tuple | list) and spec else None
    return isinstance(inputs, dict) and name in inputs


def _attribute_layer(model, dataset):
    """The model's "attribute_logits" layer when the dataset carries the attributes, else None."""
    layer = next((x for x in getattr(model, "layers", []) if x.name == "attribute_logits"), None)
    return layer if layer is not None and _has_feature(dataset, "attributes") else None


def level_layers(model) -> list:
    """The model's coarse "level_logits_*" layers (all but the last, the main output)."""
    found = [
        layer for layer in getattr(model, "layers", []) if layer.name.startswith("level_logits_")
    ]
    if not found or not getattr(model, "outputs", None):
        return []
    return found[:-1] if found[-1].output is model.outputs[0] else []


def _with_levels(model, layers):
    """``model``'s outputs followed by the outputs of ``layers`` (one pass)."""
    import keras

    outputs = list(model.outputs) + [layer.output for layer in layers]
    return keras.Model(model.inputs, outputs)


def _with_embeddings(model):
    """One `keras.Model` returning ``[scores, embeddings]``: a single pass for both."""
    import keras

    embed = embedding_model(model)  # checks the model has inputs and an embedding layer
    if len(model.outputs) != 1:
        raise ValueError(
            f"evaluate(retrieval=True) needs a model with one output (the logits). "
            f"Received a model with {len(model.outputs)} outputs."
        )
    return keras.Model(model.inputs, [model.outputs[0], embed.outputs[0]])


def write_report(
    metrics, out_dir, labels=None, scores=None, history_csv=None, embeddings=None
) -> dict:
    """Write ``metrics.json``, figures and (given arrays) ``predictions.npz``.

    ``embeddings`` (``[N, D]``, with ``labels``) are saved in
    ``predictions.npz`` and drawn in ``embedding_projection.png``.

    Returns:
        Dict of what was written: ``{"metrics": path, "confusion_matrix": path, ...}``.

    >>> import tempfile
    >>> m = metrics_from_predictions([0, 1], [[1, 0], [1, 0]])
    >>> sorted(write_report(m, tempfile.mkdtemp()))
    ['confusion_matrix', 'metrics', 'per_class_accuracy']
    """
    from fgkeras.evaluation import plots

    os.makedirs(out_dir, exist_ok=True)
    files = {}
    if labels is not None and scores is not None:
        files["predictions"] = os.path.join(out_dir, PREDICTIONS_FILE)
        arrays = {"labels": labels, "scores": scores}
        if embeddings is not None:
            arrays["embeddings"] = embeddings
        np.savez_compressed(files["predictions"], **arrays)
    files["confusion_matrix"] = plots.plot_confusion_matrix(
        metrics["confusion_matrix"], metrics["class_names"], out_dir
    )
    files["per_class_accuracy"] = plots.plot_per_class_accuracy(metrics["per_class"], out_dir)
    if embeddings is not None and labels is not None:
        files["embedding_projection"] = plots.plot_embedding_projection(
            embeddings, labels, metrics["class_names"], out_dir
        )
    if history_csv is not None:
        try:
            files["training_curves"] = plots.plot_training_curves(history_csv, out_dir)
        except (OSError, ValueError) as error:  # a report without curves beats none
            warnings.warn(f"No training curves: {error}", stacklevel=2)
    files["metrics"] = os.path.join(out_dir, METRICS_FILE)
    with open(files["metrics"], "w") as f:
        f.write(metrics_to_json({**metrics, "files": files}))
    return files


def metrics_to_json(metrics) -> str:
    """JSON text of a metrics dict: indented, one confusion-matrix row per line.

    >>> print(metrics_to_json({"top1_accuracy": 0.5, "confusion_matrix": [[1, 0], [1, 0]]}))
    {
     "top1_accuracy": 0.5,
     "confusion_matrix": [
      [1, 0],
      [1, 0]
     ]
    }
    """
    rows = metrics.get("confusion_matrix")
    if rows is None:
        return json.dumps(metrics, indent=1)
    text = json.dumps({**metrics, "confusion_matrix": "@CONFUSION@"}, indent=1)
    body = ",\n".join("  " + json.dumps(list(row), separators=(", ", ":")) for row in rows)
    return text.replace('"@CONFUSION@"', "[\n" + body + "\n ]")


def evaluate_run(
    run_dir,
    split=None,
    checkpoint="final",
    top_k=5,
    batch_size=None,
    out_dir=None,
    retrieval=False,
    tta=None,
) -> dict:
    """Evaluate a training run directory on a split of its data source.

    Reads the run through `fgkeras.training.run_dir.RunDirectory`
    (``config.json``, ``class_names.json``, the checkpoint), re-creates the
    split with `fgkeras.data.load` (centre crops, no shuffling) and calls
    `evaluate`. The training curves come from ``history.csv`` when present.

    Args:
        run_dir: the run directory written by `fgkeras.train`.
        split: split to evaluate; None uses the run's ``val_split`` (else
            ``"test"``). Defaults to None.
        checkpoint: ``"final"`` (model.keras), ``"last"`` (last.keras) or
            ``"best"`` (best.keras). Defaults to "final".
        top_k: the k of top-k accuracy. Defaults to 5.
        batch_size: None uses the run's batch size. Defaults to None.
        out_dir: None writes to ``RUN_DIR/eval-<split>-<checkpoint>``. Defaults to None.
        retrieval: add the retrieval metrics of the model's embeddings and
            their projection plot (see `evaluate`). Defaults to False.
        tta: None, or "flip" to add the separate ``"tta"`` block of the
            image and its mirror (see `evaluate`). Defaults to None.

    Returns:
        The metrics dict of `evaluate`, plus ``run_dir``, ``split``,
        ``checkpoint`` and ``model_path``.

    >>> evaluate_run("/no/such/run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: Run directory not found: '/no/such/run'. Pass the folder ...
    """
    from fgkeras.data import load
    from fgkeras.training.run_dir import RunDirectory, load_keras_model

    tta = check_tta(tta)  # a bad value fails before anything is loaded
    run = RunDirectory(run_dir)
    data_options = run.data_options()
    model_path = run.model_path(checkpoint)
    class_names = run.class_names
    model = load_keras_model(model_path)
    split = split or data_options["val_split"]
    features = run_features(run.config.get("model"))
    dataset = load(
        data_options["source"],
        split=split,
        image_size=data_options["image_size"] or model.input_shape[1],
        batch_size=batch_size or data_options["batch_size"],
        **({"features": features} if features else {}),
        **data_options["options"],
        **data_options["source_options"],
    )
    found = getattr(dataset, "class_names", None)
    if class_names is not None and found is not None and list(found) != list(class_names):
        raise ValueError(
            f"The classes of split {split!r} differ from those the run was trained on "
            f"({len(found)} vs {len(class_names)} classes; first difference: "
            f"{_first_difference(found, class_names)}). Labels would not line up."
        )
    history = run.file("history.csv")
    out_dir = out_dir or run.file(f"eval-{split}-{checkpoint}")
    metrics = evaluate(
        model,
        dataset,
        class_names=class_names or found,
        out_dir=out_dir,
        top_k=top_k,
        history_csv=history if os.path.isfile(history) else None,
        retrieval=retrieval,
        tta=tta,
    )
    info = {"run_dir": os.fspath(run_dir), "split": split, "checkpoint": checkpoint}
    return {**info, "model_path": model_path, **metrics}


def run_features(model_name) -> tuple:
    """The data features a registered model's evaluation reads (its attributes, ...)."""
    from fgkeras.models.registry import list_models, model_card
    from fgkeras.training.run import data_features

    if model_name not in list_models():
        return ()
    return data_features(model_card(model_name))


def _first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"class {i} is {x!r} vs {y!r}"
    return "different number of classes"
