"""Retrieval metrics: a hand-computed example, a brute-force reference, evaluate(retrieval=True)."""

import os

import numpy as np
import pytest
import tensorflow as tf

import fgkeras
import fgkeras.data
from fgkeras.evaluation import plots
from fgkeras.evaluation.evaluator import evaluate
from fgkeras.evaluation.retrieval import embed_dataset, retrieval_metrics

# Six points on a line, Euclidean distance. Neighbours of each query, nearest
# first (ties to the lower index), and whether they share its class:
#   0 (0.0, A): 1 A, 2 B, 3 A, 4 B, 5 B   rel 1 0 1 0 0   R=2
#   1 (1.0, A): 0 A, 2 B, 3 A, 4 B, 5 B   rel 1 0 1 0 0   R=2
#   2 (2.5, B): 1 A, 3 A, 0 A, 4 B, 5 B   rel 0 0 0 1 1   R=2 (1 and 3 tie at 1.5)
#   3 (4.0, A): 2 B, 1 A, 4 B, 5 B, 0 A   rel 0 1 0 0 1   R=2 (1 and 4 tie at 3.0)
#   4 (7.0, B): 5 B, 3 A, 2 B, 1 A, 0 A   rel 1 0 1 0 0   R=2
#   5 (7.5, B): 4 B, 3 A, 2 B, 1 A, 0 A   rel 1 0 1 0 0   R=2
POINTS = [[0.0], [1.0], [2.5], [4.0], [7.0], [7.5]]
LABELS = ["A", "A", "B", "A", "B", "B"]
EXPECTED = {
    "recall_at_1": 4 / 6,  # queries 2 and 3 miss
    "recall_at_2": 5 / 6,  # query 2 misses
    "recall_at_4": 6 / 6,
    # R-precision: relevant among the 2 nearest / 2.
    "r_precision": (0.5 + 0.5 + 0.0 + 0.5 + 0.5 + 0.5) / 6,
    # MAP@R: (1/R) sum_{i<=R} P(i) rel(i): 1/2 for "1 0", 0 for "0 0", (1/2)/2 for "0 1".
    "map_at_r": (0.5 + 0.5 + 0.0 + 0.25 + 0.5 + 0.5) / 6,
    # 3-NN votes: A,B,A / A,B,A / A,A,A / B,A,B / B,A,B / B,A,B.
    "knn_accuracy": 4 / 6,
}


def test_hand_computed_example():
    m = retrieval_metrics(POINTS, LABELS, ks=(1, 2, 4), normalize=False, knn_k=3)
    for key, value in EXPECTED.items():
        assert m[key] == pytest.approx(value), key
    assert m["num_queries"] == 6 and m["num_skipped"] == 0 and m["knn_k"] == 3
    assert sorted(m) == sorted([*EXPECTED, "knn_k", "num_queries", "num_skipped"])


def test_knn_ties_go_to_the_nearest_and_votes_count():
    # 2-NN: a 1-1 tie takes the nearest's class: 0 A, 1 A, 2 A(x), 3 B(x), 4 B, 5 B.
    assert retrieval_metrics(POINTS, LABELS, normalize=False, knn_k=2)["knn_accuracy"] == (
        pytest.approx(4 / 6)
    )
    # 5-NN: every query's five others hold three of the other class.
    assert retrieval_metrics(POINTS, LABELS, normalize=False, knn_k=5)["knn_accuracy"] == 0.0


def test_singleton_classes_are_skipped_and_counted():
    points, labels = [*POINTS, [100.0]], [*LABELS, "C"]  # far away, alone in class C
    m = retrieval_metrics(points, labels, ks=(1, 2, 4), normalize=False, knn_k=3)
    assert m["num_queries"] == 6 and m["num_skipped"] == 1
    for key, value in EXPECTED.items():
        assert m[key] == pytest.approx(value), key


def _brute_force(x, labels, ks, normalize, knn_k):
    """One query at a time, with Python loops: the definitions, written plainly."""
    x = np.asarray(x, np.float64)
    if normalize:
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    out = {f"recall_at_{k}": [] for k in ks}
    out.update(map_at_r=[], r_precision=[], knn_accuracy=[])
    for q in range(len(x)):
        others = [j for j in range(len(x)) if j != q]
        if normalize:
            dist = [-float(x[q] @ x[j]) for j in others]
        else:
            dist = [float(np.linalg.norm(x[q] - x[j])) for j in others]
        ranked = [others[i] for i in sorted(range(len(others)), key=lambda i: (dist[i], others[i]))]
        rel = [labels[j] == labels[q] for j in ranked]
        r = sum(rel)
        if r == 0:
            continue
        for k in ks:
            out[f"recall_at_{k}"].append(float(any(rel[:k])))
        out["r_precision"].append(sum(rel[:r]) / r)
        out["map_at_r"].append(sum(sum(rel[: i + 1]) / (i + 1) for i in range(r) if rel[i]) / r)
        votes = [labels[j] for j in ranked[:knn_k]]
        best = max(votes.count(v) for v in votes)
        predicted = next(v for v in votes if votes.count(v) == best)
        out["knn_accuracy"].append(float(predicted == labels[q]))
    return {key: float(np.mean(values)) for key, values in out.items()}


@pytest.mark.parametrize("normalize", [True, False])
def test_matches_brute_force_reference_for_any_chunk_size(normalize):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    labels = rng.integers(0, 7, 60)
    ks = (1, 2, 4, 8, 100)
    expected = _brute_force(x, labels.tolist(), ks, normalize, knn_k=5)
    results = [
        retrieval_metrics(x, labels, ks=ks, normalize=normalize, chunk_size=c)
        for c in (None, 1, 7, 60)
    ]
    for key, value in expected.items():
        assert results[0][key] == pytest.approx(value, abs=1e-12), key
    for other in results[1:]:
        assert other == results[0]  # chunking changes nothing, bit for bit
    assert results[0]["recall_at_100"] == 1.0  # k past N - 1 counts every item


def test_ties_are_deterministic_across_chunks():
    # Many duplicate embeddings: the lower index wins every tie, in every chunk.
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, (40, 2)).astype(np.float32)
    labels = rng.integers(0, 4, 40)
    a = retrieval_metrics(x, labels, normalize=False, chunk_size=3)
    b = retrieval_metrics(x, labels, normalize=False, chunk_size=40)
    assert a == b
    expected = _brute_force(x, labels.tolist(), (1, 2, 4, 8), False, 5)
    assert a["map_at_r"] == pytest.approx(expected["map_at_r"])
    assert a["recall_at_1"] == pytest.approx(expected["recall_at_1"])


def test_perfect_clusters_score_one():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(5), 8)
    x = 10 * np.eye(5, 16)[labels] + 0.01 * rng.normal(size=(40, 16))
    for normalize in (True, False):
        m = retrieval_metrics(x, labels, normalize=normalize)
        for key in ("recall_at_1", "recall_at_8", "map_at_r", "r_precision", "knn_accuracy"):
            assert m[key] == 1.0, (key, normalize)


def test_cosine_ignores_scale_and_zero_vectors_are_safe():
    x = np.array([[1.0, 0.0], [100.0, 1.0], [0.0, 1.0], [0.0, 50.0], [0.0, 0.0]])
    labels = [0, 0, 1, 1, 2]
    m = retrieval_metrics(x, labels, ks=(1,))
    assert m["recall_at_1"] == 1.0 and m["num_skipped"] == 1
    # Euclidean: the far point (100, 1) is nearest to (0, 50).
    assert retrieval_metrics(x, labels, ks=(1,), normalize=False)["recall_at_1"] < 1.0


@pytest.mark.parametrize(
    "embeddings, labels, kwargs, match",
    [
        (np.zeros((3, 2)), [0, 1], {}, r"shapes differ.*\(3, 2\).*\(2,\)"),
        (np.zeros(3), [0, 1, 1], {}, r"shape \[N, D\]"),
        (np.zeros((1, 2)), [0], {}, "at least 2 items"),
        ([[0.0, np.nan], [1.0, 1.0]], [0, 0], {}, "NaN"),
        ([[0.0], [1.0], [2.0]], [0, 1, 2], {}, "alone in its class"),
        (np.zeros((2, 2)), [0, 0], {"ks": (0,)}, r"ks=0"),
        (np.zeros((2, 2)), [0, 0], {"knn_k": 1.5}, r"knn_k=1.5"),
    ],
)
def test_bad_inputs_raise_value_errors(embeddings, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        retrieval_metrics(embeddings, labels, **kwargs)


def _tiny_dataset():
    return fgkeras.data.load(
        "synthetic", "test", image_size=16, batch_size=5, num_classes=3, num_examples=12
    )


def test_evaluate_with_retrieval_in_one_pass(tmp_path):
    model = fgkeras.build(
        "baseline", num_classes=3, backbone="tiny", weights=None, input_shape=(16, 16, 3)
    )
    ds = _tiny_dataset()
    plain = evaluate(model, ds)
    m = evaluate(model, ds, out_dir=tmp_path, retrieval=True)
    assert "retrieval" not in plain
    assert {key: m[key] for key in plain} == plain  # the classification part is unchanged
    embeddings, labels = embed_dataset(model, ds)
    assert embeddings.shape == (12, model.get_layer("pooler").output.shape[-1])
    assert m["retrieval"] == retrieval_metrics(embeddings, labels)
    assert m["files"]["embedding_projection"] == os.path.join(tmp_path, "embedding_projection.png")
    arrays = np.load(m["files"]["predictions"])
    np.testing.assert_allclose(arrays["embeddings"], embeddings, rtol=1e-5, atol=1e-6)
    assert os.path.getsize(m["files"]["embedding_projection"]) > 5000


def test_retrieval_needs_an_embedding_layer():
    import keras

    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ValueError, match="has no embedding"):
        evaluate(model, _tiny_dataset(), retrieval=True)


def test_embed_dataset_takes_one_hot_labels():
    model = fgkeras.build(
        "baseline", num_classes=3, backbone="tiny", weights=None, input_shape=(16, 16, 3)
    )
    images = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype(np.float32)
    one_hot = np.eye(3, dtype=np.float32)[[2, 0, 1, 2]]
    ds = tf.data.Dataset.from_tensor_slices((images, one_hot)).batch(3)
    embeddings, labels = embed_dataset(model, ds)
    assert labels.tolist() == [2, 0, 1, 2] and labels.dtype == np.int32
    assert embeddings.dtype == np.float32 and np.isfinite(embeddings).all()


def test_projection_plot_many_classes_and_pca(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 40, 300)
    x = rng.normal(size=(40, 6))[labels] + 0.1 * rng.normal(size=(300, 6))
    path = plots.plot_embedding_projection(x, labels, None, tmp_path / "a.png", max_points=200)
    assert path.endswith("a.png") and os.path.getsize(path) > 5000
    # 1-D embeddings are drawn on a line.
    path = plots.plot_embedding_projection([[0.0], [1.0]], [0, 1], ["a", "b"], tmp_path, "pca")
    assert os.path.isfile(path)
    with pytest.raises(ValueError, match="method"):
        plots.plot_embedding_projection(x, labels, method="umap", path=tmp_path)


def test_tsne_without_scikit_learn_says_what_to_install(tmp_path):
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="scikit-learn"):
            plots.plot_embedding_projection(np.zeros((6, 2)), [0] * 6, path=tmp_path, method="tsne")
    else:
        path = plots.plot_embedding_projection(
            np.random.default_rng(0).normal(size=(30, 4)), [0, 1, 2] * 10, path=tmp_path
        )
        assert os.path.isfile(path)


def test_queries_against_a_gallery_match_a_brute_force_search():
    rng = np.random.default_rng(3)
    queries, gallery = rng.normal(size=(40, 8)), rng.normal(size=(25, 8))
    query_labels, gallery_labels = rng.integers(0, 5, 40), rng.integers(0, 5, 25)
    m = retrieval_metrics(queries, query_labels, ks=(1, 3), gallery=gallery,
                          gallery_labels=gallery_labels)  # fmt: skip
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    order = np.argsort(-(q @ g.T), axis=1, kind="stable")
    keep = np.isin(query_labels, gallery_labels)  # queries whose class the gallery holds
    relevant = gallery_labels[order] == query_labels[:, None]
    assert m["num_queries"] == keep.sum() and m["num_skipped"] == (~keep).sum()
    assert m["recall_at_1"] == pytest.approx(relevant[keep, 0].mean())
    assert m["recall_at_3"] == pytest.approx(relevant[keep, :3].any(axis=1).mean())
    r = np.array([np.sum(gallery_labels == y) for y in query_labels])
    ap = [
        np.sum(relevant[i, : r[i]] * np.cumsum(relevant[i, : r[i]]) / np.arange(1, r[i] + 1)) / r[i]
        for i in np.flatnonzero(keep)
    ]
    assert m["map_at_r"] == pytest.approx(np.mean(ap))
    with pytest.raises(ValueError, match="gallery_labels"):
        retrieval_metrics(queries, query_labels, gallery=gallery)
