"""Metrics of attribute predictions: per-attribute average precision, mAP and accuracy.

For A binary attributes (CUB's ``has_<part>_<value>``, the synthetic birds'
part colours) and one score per image and attribute (logits or
probabilities; the order is what counts):

- *average precision* (AP) of attribute a: the mean, over the images that
  have it, of the precision among the images ranked at or above that image,
  i.e. the area under its precision-recall curve (ties broken by image
  order); attributes no image has are left out of the mean;
- *mAP*: the mean AP over the attributes, the usual score of attribute
  prediction (it does not depend on a threshold, and a rare attribute
  counts as much as a common one);
- *accuracy*: share of images whose attribute is predicted right with the
  threshold logit 0 (probability 0.5), per attribute and on average.

Pure NumPy, like `fgkeras.evaluation.metrics`.

>>> m = attribute_metrics([[1, 0], [0, 1], [1, 1]], [[2.0, -1.0], [-1.0, 0.5], [0.5, -2.0]])
>>> m["mean_average_precision"], m["mean_accuracy"]
(0.9166666666666666, 0.8333333333333334)
"""

from __future__ import annotations

import numpy as np


def average_precision(targets, scores) -> float | None:
    """AP of one attribute: ``targets`` 0/1 ``[N]``, ``scores`` ``[N]``; None without positives.

    >>> average_precision([1, 0, 1], [0.9, 0.8, 0.1])
    0.8333333333333333
    """
    targets = np.asarray(targets, np.float64).reshape(-1) >= 0.5
    if not targets.any():
        return None
    order = np.argsort(-np.asarray(scores, np.float64).reshape(-1), kind="stable")
    hits = targets[order]
    precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hit.mean())


def attribute_metrics(targets, scores, names=None, threshold=0.0) -> dict:
    """AP, mAP and accuracy of attribute ``scores`` ``[N, A]`` against 0/1 ``targets``.

    Args:
        targets: ``[N, A]`` attribute labels (values >= 0.5 count as present).
        scores: ``[N, A]`` logits (or probabilities with ``threshold=0.5``).
        names: the A attribute names, or None ("0", "1", ...). Defaults to None.
        threshold: the score above which an attribute is predicted present.
            Defaults to 0.0 (logits).

    Returns:
        A JSON-ready dict: ``mean_average_precision``, ``mean_accuracy``,
        ``num_attributes``, ``num_scored`` (attributes with a positive image),
        and ``per_attribute``: ``[{"name", "average_precision", "accuracy",
        "positives"}]``.
    """
    targets, scores = np.asarray(targets, np.float64), np.asarray(scores, np.float64)
    if targets.shape != scores.shape or targets.ndim != 2:
        raise ValueError(
            f"attribute_metrics needs targets and scores of the same [N, A] shape. "
            f"Received {targets.shape} and {scores.shape}"
        )
    names = [str(i) for i in range(targets.shape[1])] if names is None else list(names)
    present = targets >= 0.5
    predicted = scores > threshold
    rows, precisions = [], []
    for a, name in enumerate(names):
        ap = average_precision(present[:, a], scores[:, a])
        if ap is not None:
            precisions.append(ap)
        rows.append(
            {
                "name": name,
                "average_precision": ap,
                "accuracy": float(np.mean(predicted[:, a] == present[:, a])),
                "positives": int(present[:, a].sum()),
            }
        )
    return {
        "mean_average_precision": float(np.mean(precisions)) if precisions else None,
        "mean_accuracy": float(np.mean(predicted == present)),
        "num_attributes": len(names),
        "num_scored": len(precisions),
        "per_attribute": rows,
    }
