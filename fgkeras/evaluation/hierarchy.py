"""Metrics over a label tree: per-level accuracy and how wrong the wrong answers are.

For a `fgkeras.data.label_tree.LabelTree` of L levels and top-1 predictions:

- *per-level accuracy*: a prediction is right at level l when the predicted
  class's ancestor at l is the true class's (any model: its class
  prediction is mapped up the tree);
- *mistake severity*: the mean tree distance between the true and the
  predicted class over the mistakes only, d = L − #{shared levels}
  (1: a sibling, L: another root), after Bertinetto et al., "Making Better
  Mistakes: Leveraging Class Hierarchies with Deep Networks", CVPR 2020
  (https://arxiv.org/abs/1912.09393), who report it as the height of the
  lowest common ancestor; with its distribution over 1..L;
- for models with their own per-level heads (``hierarchical``), the
  accuracy of each head and how often the heads' predictions form a path
  of the tree (each level's node a child of the level above's).

Pure NumPy, like `fgkeras.evaluation.metrics`.
"""

from __future__ import annotations

import numpy as np


def hierarchy_metrics(labels, scores, tree, level_scores=None) -> dict:
    """Per-level accuracy and mistake severity of class scores over ``tree``.

    Args:
        labels: int ``[N]`` true classes.
        scores: ``[N, C]`` class scores (logits or probabilities; arg-max is
            the prediction); C = ``tree.num_classes``.
        tree: the `fgkeras.data.label_tree.LabelTree` of the classes.
        level_scores: None, or one ``[N, n_l]`` array per level (coarse
            first) of a model's own per-level heads. Defaults to None.

    Returns:
        A JSON-ready dict: ``levels``, ``level_accuracy`` ({level: accuracy}
        of the class prediction mapped up the tree), ``num_mistakes``,
        ``mistake_severity`` (mean tree distance of the mistakes; None
        without mistakes), ``mean_tree_distance`` (over all examples, 0 for
        the right ones), ``mistake_distances`` ({"1": count, ..., "L":
        count}); with ``level_scores`` also ``head_level_accuracy`` and
        ``head_path_consistency``.

    >>> from fgkeras.data.label_tree import from_child_parent
    >>> tree = from_child_parent({"a": "x", "b": "x", "c": "y"}, ["a", "b", "c"])
    >>> m = hierarchy_metrics([0, 0, 2, 2], np.eye(3)[[0, 1, 2, 0]], tree)
    >>> m["level_accuracy"], m["mistake_severity"], m["mistake_distances"]
    ({'level0': 0.75, 'label': 0.5}, 1.5, {'1': 1, '2': 1})
    """
    labels = np.asarray(labels, np.int64).reshape(-1)
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != tree.num_classes or len(scores) != len(labels):
        raise ValueError(
            f"hierarchy_metrics needs scores [N, {tree.num_classes}] for N labels (the tree's "
            f"classes). Received: scores of shape {scores.shape}, {len(labels)} labels"
        )
    predicted = scores.argmax(axis=1)
    true_nodes, predicted_nodes = tree.level_labels(labels), tree.level_labels(predicted)
    distances = tree.distance(labels, predicted)
    mistakes = distances[distances > 0]
    metrics = {
        "levels": list(tree.levels),
        "level_accuracy": _accuracy(tree.levels, true_nodes, predicted_nodes),
        "num_mistakes": int(len(mistakes)),
        "mistake_severity": float(mistakes.mean()) if len(mistakes) else None,
        "mean_tree_distance": float(distances.mean()) if len(distances) else 0.0,
        "mistake_distances": {
            str(d): int(np.sum(mistakes == d)) for d in range(1, tree.num_levels + 1)
        },
    }
    if level_scores is not None:
        if len(level_scores) != tree.num_levels:
            raise ValueError(
                f"level_scores needs one array per level ({tree.num_levels}). "
                f"Received: {len(level_scores)} arrays"
            )
        heads = np.stack([np.asarray(s).argmax(axis=1) for s in level_scores], axis=1)
        metrics["head_level_accuracy"] = _accuracy(tree.levels, true_nodes, heads)
        metrics["head_path_consistency"] = path_consistency(heads, tree)
    return metrics


def path_consistency(nodes, tree) -> float:
    """Share of rows of ``nodes`` ``[N, L]`` (a node per level) that are paths of ``tree``.

    >>> from fgkeras.data.label_tree import from_child_parent
    >>> tree = from_child_parent({"a": "x", "b": "y"}, ["a", "b"])
    >>> path_consistency(np.array([[0, 0], [0, 1]]), tree)
    0.5
    """
    nodes = np.asarray(nodes, np.int64)
    if not len(nodes):
        return 1.0
    ok = np.ones(len(nodes), bool)
    for level in range(1, tree.num_levels):
        ok &= tree.parents(level)[nodes[:, level]] == nodes[:, level - 1]
    return float(ok.mean())


def _accuracy(levels, true_nodes, predicted_nodes) -> dict:
    if not len(true_nodes):
        return {level: None for level in levels}
    return {
        level: float(np.mean(true_nodes[:, j] == predicted_nodes[:, j]))
        for j, level in enumerate(levels)
    }
