import numpy as np
import pytest

from fgkeras.layers import AttributeCompatibility
from fgkeras.testing import check_layer_contract, random_inputs

TABLE = np.array([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0], [0.5, 0.5, 0.5], [3.0, 0.0, 0.0]], "float32")


@pytest.mark.parametrize("table", [TABLE, None])
def test_contract(table):
    check_layer_contract(
        AttributeCompatibility, {"num_classes": 4, "class_attributes": table, "embedding_dim": 5},
        (2, 6), (2, 4),
    )  # fmt: skip


def reference(embeddings, kernel, table, normalize=True):
    """F(x, y) = θ(x)ᵀ W φ(y) in NumPy, φ rows L2-normalised."""
    table = np.asarray(table, np.float64)
    if normalize:
        table = table / np.linalg.norm(table, axis=1, keepdims=True)
    return np.asarray(embeddings, np.float64) @ np.asarray(kernel, np.float64) @ table.T


@pytest.mark.parametrize("normalize", [True, False])
def test_matches_the_numpy_compatibility(normalize):
    layer = AttributeCompatibility(4, class_attributes=TABLE, normalize=normalize)
    x = random_inputs((3, 6))
    got = np.asarray(layer(x))
    np.testing.assert_allclose(got, reference(x, layer.kernel, TABLE, normalize), rtol=1e-5)
    # Other classes, same W: what zero-shot recognition computes.
    others = np.eye(2, 3) * 4
    np.testing.assert_allclose(
        np.asarray(layer.scores(x, others)), reference(x, layer.kernel, others, normalize),
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip


def test_learned_class_vectors_without_a_table():
    layer = AttributeCompatibility(4, embedding_dim=5)
    x = random_inputs((3, 6))
    got = np.asarray(layer(x))
    np.testing.assert_allclose(got, reference(x, layer.kernel, layer.class_embeddings), rtol=1e-5)
    assert [w.name for w in layer.trainable_weights] == ["kernel", "class_embeddings"]


@pytest.mark.parametrize(
    "table, message",
    [(np.ones((3, 2)), r"\[num_classes=4, num_attributes\]"), (np.full((4, 2), np.nan), "NaN")],
)
def test_bad_tables_are_named(table, message):
    with pytest.raises(ValueError, match=message):
        AttributeCompatibility(4, class_attributes=table)
