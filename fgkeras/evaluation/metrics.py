"""Classification metrics on arrays: accuracy, per-class, confusion, worst pairs.

Pure NumPy (no TensorFlow), so every number is exact and easy to test;
`fgkeras.evaluation.evaluator` runs models and writes the reports around these.
"""

from __future__ import annotations

import numpy as np

from fgkeras.checks import check_int


def metrics_from_predictions(labels, scores, class_names=None, top_k=5, num_pairs=20) -> dict:
    """Accuracy, per-class accuracy, confusion matrix and most-confused pairs.

    Scores may be logits or probabilities (only their order matters). Ties are
    broken towards the lower class index, as `np.argmax` does, so top-1 always
    agrees with the confusion matrix.

    Args:
        labels: int array ``[N]`` of true classes in ``[0, C)``.
        scores: float array ``[N, C]`` of logits or probabilities.
        class_names: ``C`` names; None uses ``"0"``, ``"1"``, ... Defaults to None.
        top_k: the k of top-k accuracy, clipped to ``C``. Defaults to 5.
        num_pairs: how many most-confused pairs to list. Defaults to 20.

    Returns:
        A JSON-ready dict: ``num_examples``, ``num_classes``, ``top1_accuracy``,
        ``top_k``, ``top_k_accuracy``, ``mean_per_class_accuracy`` (over classes
        with examples), ``per_class`` (list of ``{index, name, support, correct,
        accuracy}``; accuracy None for classes without examples),
        ``most_confused`` (list of ``{true, predicted, true_index,
        predicted_index, count, rate}``, rate = count / support of the true
        class; sorted by count, then rate, then indices), ``class_names`` and
        ``confusion_matrix`` (rows: true class, columns: predicted class).

    >>> m = metrics_from_predictions([0, 0, 1, 2], [[.9, .1, 0], [.2, .8, 0],
    ...                              [0, 1, 0], [0, .3, .7]], ["a", "b", "c"], top_k=2)
    >>> m["top1_accuracy"], m["top_k_accuracy"], m["mean_per_class_accuracy"]
    (0.75, 1.0, 0.8333333333333334)
    >>> m["most_confused"]  # doctest: +NORMALIZE_WHITESPACE
    [{'true': 'a', 'predicted': 'b', 'true_index': 0, 'predicted_index': 1,
      'count': 1, 'rate': 0.5}]
    """
    labels, scores = _check_arrays(labels, scores)
    num_examples, num_classes = scores.shape
    class_names = _check_class_names(class_names, num_classes)
    check_int("top_k", top_k)
    k = int(min(top_k, num_classes))

    ranking = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    predicted = ranking[:, 0]
    in_top_k = np.any(ranking == labels[:, None], axis=1)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (labels, predicted), 1)

    support = confusion.sum(axis=1)
    correct = np.diag(confusion)
    per_class = [
        {
            "index": i,
            "name": class_names[i],
            "support": int(support[i]),
            "correct": int(correct[i]),
            "accuracy": float(correct[i] / support[i]) if support[i] else None,
        }
        for i in range(num_classes)
    ]
    present = support > 0
    return {
        "num_examples": int(num_examples),
        "num_classes": int(num_classes),
        "top1_accuracy": float(np.mean(predicted == labels)) if num_examples else 0.0,
        "top_k": k,
        "top_k_accuracy": float(np.mean(in_top_k)) if num_examples else 0.0,
        "mean_per_class_accuracy": (
            float(np.mean(correct[present] / support[present])) if present.any() else 0.0
        ),
        "per_class": per_class,
        "most_confused": most_confused_pairs(confusion, class_names, num_pairs),
        "class_names": list(class_names),
        "confusion_matrix": confusion.tolist(),
    }


def most_confused_pairs(confusion, class_names=None, num_pairs=20) -> list[dict]:
    """The largest off-diagonal cells of a confusion matrix, as ordered pairs.

    Args:
        confusion: int array ``[C, C]``, rows true class, columns predicted.
        class_names: ``C`` names; None uses ``"0"``, ``"1"``, ... Defaults to None.
        num_pairs: at most this many pairs (only cells with count > 0). Defaults to 20.

    Returns:
        List of ``{true, predicted, true_index, predicted_index, count, rate}``
        sorted by count (descending), rate (descending), then indices.

    >>> pairs = most_confused_pairs([[5, 3, 0], [1, 9, 0], [0, 3, 1]], num_pairs=2)
    >>> [(p["true"], p["predicted"], p["count"], p["rate"]) for p in pairs]
    [('2', '1', 3, 0.75), ('0', '1', 3, 0.375)]
    """
    confusion = np.asarray(confusion, np.int64)
    class_names = _check_class_names(class_names, confusion.shape[0])
    support = confusion.sum(axis=1)
    rows, cols = np.nonzero(confusion * (1 - np.eye(len(confusion), dtype=np.int64)))
    pairs = [
        {
            "true": class_names[i],
            "predicted": class_names[j],
            "true_index": int(i),
            "predicted_index": int(j),
            "count": int(confusion[i, j]),
            "rate": float(confusion[i, j] / support[i]),
        }
        for i, j in zip(rows, cols)
    ]
    pairs.sort(key=lambda p: (-p["count"], -p["rate"], p["true_index"], p["predicted_index"]))
    return pairs[: max(0, int(num_pairs))]


def _check_arrays(labels, scores):
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels).reshape(-1)
    if scores.ndim != 2 or scores.shape[1] < 1:
        raise ValueError(f"scores must have shape [N, C]. Received: shape {scores.shape}")
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(
            f"labels and scores differ in length: {labels.shape[0]} vs {scores.shape[0]}."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(
            f"labels must be in [0, {scores.shape[1]}). Received values from "
            f"{labels.min()} to {labels.max()}."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinity; the model output is not usable.")
    return labels.astype(np.int64), scores


def _check_class_names(class_names, num_classes):
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != num_classes:
        raise ValueError(
            f"Got {len(class_names)} class names for {num_classes} classes of scores. "
            f"Received: class_names={class_names[:5]}..."
        )
    return class_names
