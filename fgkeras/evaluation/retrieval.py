"""Retrieval metrics of image embeddings: Recall@K, MAP@R, R-precision, k-NN accuracy.

The evaluation set is searched *leave-one-out*: every image is a query against
all the others, as in the metric-learning benchmarks (CUB-200, Cars196, SOP).
Similarity is cosine after L2 normalisation (``normalize=True``) or negative
Euclidean distance. For a query of class ``y`` let ``R`` be the number of
*other* images of class ``y``:

- ``recall_at_k``: 1 if any of the ``k`` nearest neighbours has class ``y``,
  averaged over queries (the "Recall@K" of metric-learning papers, which is a
  hit rate, not the recall of information retrieval);
- ``r_precision``: the share of relevant images among the ``R`` nearest;
- ``map_at_r``: ``(1 / R) * sum_{i <= R} P(i) * rel(i)``, with ``P(i)`` the
  precision of the ``i`` nearest and ``rel(i)`` 1 when the ``i``-th is
  relevant (Musgrave et al., "A Metric Learning Reality Check", ECCV 2020,
  https://arxiv.org/abs/2003.08505);
- ``knn_accuracy``: the majority class of the ``knn_k`` nearest neighbours is
  ``y`` (a tie between classes goes to the class of the nearer neighbour).

Queries whose class has no other image (``R = 0``) have no right answer and are
skipped (``num_skipped``). Exact distance ties rank the lower index first, so
results are deterministic and do not depend on the chunk size. Pure NumPy: the
distances are computed for ``chunk_size`` queries at a time, so 10,000 images
never need a 10,000 x 10,000 matrix at once.

`embed_dataset` runs a model over a dataset and returns the embeddings of
`fgkeras.models.heads.embedding_layer` ("embedding" if the model has a learned
projection, else "pooler").
"""

from __future__ import annotations

import numpy as np

__all__ = ["embed_dataset", "retrieval_metrics"]

# Entries of one chunk's [queries, N] distance matrix (float64: 32 MiB).
CHUNK_ENTRIES = 1 << 22


def retrieval_metrics(
    embeddings,
    labels,
    ks=(1, 2, 4, 8),
    normalize=True,
    knn_k=5,
    chunk_size=None,
    gallery=None,
    gallery_labels=None,
) -> dict:
    """Retrieval metrics of embeddings with class labels: leave-one-out, or against a gallery.

    Without ``gallery`` every item queries all the others (one set, e.g.
    image → image). With ``gallery`` the ``embeddings`` query the gallery's
    items (another set, another modality: image → text, text → image), none
    left out; an item is relevant when its class is the query's.

    Args:
        embeddings: float array ``[N, D]``, the queries (and, without
            ``gallery``, the searched set).
        labels: ``N`` class labels (ints, or any values NumPy can compare).
        ks: the k of each ``recall_at_{k}``. A k past ``N - 1`` counts every
            other item. Defaults to (1, 2, 4, 8).
        normalize: cosine similarity after L2 normalisation (zero vectors stay
            zero); False ranks by Euclidean distance. Defaults to True.
        knn_k: neighbours of the majority vote of ``knn_accuracy``. Defaults to 5.
        chunk_size: queries per distance block; None keeps a block near 4M
            entries. The results do not depend on it. Defaults to None.
        gallery: float array ``[M, D]`` to search instead of the queries
            themselves, or None. Defaults to None.
        gallery_labels: ``M`` class labels of ``gallery``. Defaults to None.

    Returns:
        ``{"recall_at_1": ..., ..., "map_at_r", "r_precision", "knn_accuracy",
        "knn_k", "num_queries", "num_skipped"}``: means over the
        ``num_queries`` queries whose class has another item; ``num_skipped``
        queries had none.

    >>> emb = [[0.0], [1.0], [2.5], [6.0]]  # 2.5's nearest are 1.0 and 0.0: class 0
    >>> m = retrieval_metrics(emb, [0, 0, 1, 1], ks=(1, 3), normalize=False, knn_k=1)
    >>> m["recall_at_1"], m["recall_at_3"], m["map_at_r"], m["num_queries"]
    (0.75, 1.0, 0.75, 4)
    >>> texts = [[1.0, 0.0], [0.0, 1.0]]  # one text per class, images query them
    >>> m = retrieval_metrics([[0.9, 0.1], [0.2, 0.8], [0.7, 0.7]], [0, 1, 1], ks=(1,),
    ...                       gallery=texts, gallery_labels=[0, 1])
    >>> m["recall_at_1"], m["num_queries"]
    (0.6666666666666666, 3)
    """
    ks = _check_ks(ks)
    knn_k = _check_positive_int("knn_k", knn_k)
    if gallery is None:
        x, codes = _check_inputs(embeddings, labels)
        g, gallery_codes = x, codes
        relevant_counts = np.bincount(codes)[codes] - 1  # R of each query, itself left out
    else:
        x, g, codes, gallery_codes = _check_query_gallery(
            embeddings, labels, gallery, gallery_labels
        )
        relevant_counts = np.bincount(gallery_codes, minlength=codes.max() + 1)[codes]
    n, searched = len(codes), len(gallery_codes)
    leave_one_out = gallery is None
    queries = np.flatnonzero(relevant_counts > 0)
    if len(queries) == 0:
        raise ValueError(
            "No query has another item of its class, so no retrieval metric is defined: "
            f"each of the {n} items is alone in its class. Evaluate a set with at least "
            "two items per class (or a gallery holding the queries' classes)."
        )
    available = searched - 1 if leave_one_out else searched
    depth = min(available, max(max(ks), knn_k, int(relevant_counts.max())))
    if chunk_size is None:
        chunk_size = max(1, CHUNK_ENTRIES // searched)
    chunk_size = _check_positive_int("chunk_size", chunk_size)

    if normalize:
        x = _unit_rows(x)
        g = x if leave_one_out else _unit_rows(g)
    squared = np.einsum("ij,ij->i", x, x)
    gallery_squared = np.einsum("ij,ij->i", g, g)
    # Per-query values, summed once at the end: the same sums for any chunk size.
    num = len(queries)
    hits = {k: np.zeros(num, bool) for k in ks}
    average_precision, r_precision = np.zeros(num), np.zeros(num)
    knn_correct = np.zeros(num, bool)
    for start in range(0, len(queries), chunk_size):
        part = slice(start, start + chunk_size)
        rows = queries[part]
        if normalize:
            distances = -(x[rows] @ g.T)
        else:  # squared Euclidean distance ranks as the distance does
            distances = squared[rows, None] + gallery_squared[None, :] - 2.0 * (x[rows] @ g.T)
        if leave_one_out:
            distances[np.arange(len(rows)), rows] = np.inf  # leave the query out
        neighbours = _nearest(distances, depth)
        relevant = gallery_codes[neighbours] == codes[rows, None]  # [q, depth]
        for k in ks:
            hits[k][part] = relevant[:, :k].any(axis=1)
        r = relevant_counts[rows]
        found = np.cumsum(relevant, axis=1)
        rank = np.arange(1, depth + 1)
        within_r = rank[None, :] <= r[:, None]
        average_precision[part] = np.where(relevant & within_r, found / rank, 0.0).sum(axis=1) / r
        r_precision[part] = found[np.arange(len(rows)), r - 1] / r
        knn_correct[part] = _majority(gallery_codes[neighbours[:, :knn_k]]) == codes[rows]
    metrics = {f"recall_at_{k}": float(hits[k].mean()) for k in ks}
    metrics.update(
        map_at_r=float(average_precision.mean()),
        r_precision=float(r_precision.mean()),
        knn_accuracy=float(knn_correct.mean()),
        knn_k=int(min(knn_k, available)),
        num_queries=int(num),
        num_skipped=int(n - num),
    )
    return metrics


def _nearest(distances, depth):
    """Indices ``[q, depth]`` of the smallest distances, ties by lower index, sorted."""
    q, n = distances.shape
    if depth >= n:
        return np.argsort(distances, axis=1, kind="stable")[:, :depth]
    # The depth-th smallest value; all smaller values are taken, then the tied
    # values at that threshold in index order until each row has `depth`.
    threshold = np.partition(distances, depth - 1, axis=1)[:, depth - 1 : depth]
    below = distances < threshold
    tied = distances == threshold
    room = depth - below.sum(axis=1, keepdims=True)
    chosen = below | tied
    crowded = np.flatnonzero(tied.sum(axis=1) > room[:, 0])  # more ties than room: rare
    if len(crowded):
        ties = tied[crowded]
        chosen[crowded] = below[crowded] | (ties & (np.cumsum(ties, axis=1) <= room[crowded]))
    index = np.nonzero(chosen)[1].reshape(q, depth)  # row-major: ascending index
    order = np.argsort(np.take_along_axis(distances, index, axis=1), axis=1, kind="stable")
    return np.take_along_axis(index, order, axis=1)


def _majority(neighbour_labels):
    """Most frequent label of each row; a tie goes to the label seen first (nearest)."""
    same = neighbour_labels[:, :, None] == neighbour_labels[:, None, :]
    votes = same.sum(axis=2)  # votes[q, j]: how many neighbours share neighbour j's label
    first_best = np.argmax(votes == votes.max(axis=1, keepdims=True), axis=1)
    return neighbour_labels[np.arange(len(neighbour_labels)), first_best]


def _check_inputs(embeddings, labels, minimum=2, what="embeddings"):
    try:
        x = np.asarray(embeddings, np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{what}` must be a numeric array [N, D]. Received: {error}") from error
    if x.ndim != 2:
        raise ValueError(
            f"`{what}` must have shape [N, D] (one row per item). Received: {what}.shape={x.shape}"
        )
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(x):
        raise ValueError(
            f"`labels` must hold one label per {what} row: shapes differ. "
            f"Received: {what}.shape={x.shape}, labels.shape={labels.shape}"
        )
    if len(x) < minimum:
        raise ValueError(
            f"Retrieval needs at least {minimum} items (each is searched against the "
            f"others). Received: {len(x)} item(s)."
        )
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x).all(axis=1)).sum())
        raise ValueError(
            f"`{what}` contain NaN or infinite values ({bad} of {len(x)} rows); "
            "the model diverged or its inputs were broken."
        )
    _, codes = np.unique(labels, return_inverse=True)
    return x, codes.reshape(-1)


def _unit_rows(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.finfo(np.float64).tiny)


def _check_query_gallery(embeddings, labels, gallery, gallery_labels):
    """Queries and gallery as float arrays and their labels as codes of one shared table."""
    if gallery_labels is None:
        raise ValueError("`gallery_labels` must be given with `gallery` (one label per row).")
    x, _ = _check_inputs(embeddings, labels, minimum=1)
    g, _ = _check_inputs(gallery, gallery_labels, minimum=1, what="gallery")
    if x.shape[1] != g.shape[1]:
        raise ValueError(
            f"Queries and gallery must share the embedding size. Received {x.shape[1]} and "
            f"{g.shape[1]} dimensions."
        )
    both = np.concatenate([np.asarray(labels).reshape(-1), np.asarray(gallery_labels).reshape(-1)])
    _, codes = np.unique(both, return_inverse=True)
    codes = codes.reshape(-1)
    return x, g, codes[: len(x)], codes[len(x) :]


def _check_ks(ks):
    ks = (ks,) if np.isscalar(ks) else tuple(ks)
    if not ks:
        raise ValueError("`ks` must name at least one k. Received: ks=()")
    return tuple(_check_positive_int("ks", k) for k in ks)


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    return int(value)


def embed_dataset(model, dataset):
    """Embeddings and labels of a batched ``(inputs, labels)`` dataset.

    The model is called directly with ``training=False`` (no augmentation, no
    dropout); one-hot labels become class indices, as in
    `fgkeras.evaluation.evaluator.predict_dataset`.

    Args:
        model: a zoo model (any functional `keras.Model` with an "embedding"
            or "pooler" layer).
        dataset: batched ``tf.data.Dataset`` (or iterable) of ``(inputs, labels)``.

    Returns:
        ``(embeddings float32 [N, D], labels int32 [N])``.

    >>> import fgkeras, numpy as np, tensorflow as tf
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(16, 16, 3))
    >>> images = np.zeros((5, 16, 16, 3), np.float32)
    >>> ds = tf.data.Dataset.from_tensor_slices((images, [0, 1, 2, 0, 1])).batch(2)
    >>> emb, labels = embed_dataset(net, ds)
    >>> emb.shape[0], emb.dtype.name, labels.tolist()
    (5, 'float32', [0, 1, 2, 0, 1])
    """
    from fgkeras.evaluation.evaluator import collect_outputs
    from fgkeras.models.heads import embedding_model

    labels, (embeddings,) = collect_outputs(embedding_model(model), dataset)
    return embeddings.reshape(len(embeddings), -1), labels
