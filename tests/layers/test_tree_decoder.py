import numpy as np
import pytest

from fgkeras.layers import ChildMask, DecoderStep, PredictionEmbedding
from fgkeras.layers.tree_decoder import MASK_OFFSET
from fgkeras.testing import check_layer_contract, random_inputs


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_gru(cell, x, h):
    """Keras' GRU equations (reset_after=True), in NumPy."""
    kernel, recurrent, bias = (np.asarray(w, "float64") for w in cell.weights)
    u = h.shape[-1]
    xw, hu = x @ kernel + bias[0], h @ recurrent + bias[1]
    z = sigmoid(xw[:, :u] + hu[:, :u])
    r = sigmoid(xw[:, u : 2 * u] + hu[:, u : 2 * u])
    candidate = np.tanh(xw[:, 2 * u :] + r * hu[:, 2 * u :])
    return z * h + (1 - z) * candidate


def reference_lstm(cell, x, h, c):
    """Keras' LSTM equations (gates i, f, c, o), in NumPy."""
    kernel, recurrent, bias = (np.asarray(w, "float64") for w in cell.weights)
    u = h.shape[-1]
    gates = x @ kernel + h @ recurrent + bias
    i, f, g, o = (gates[:, k * u : (k + 1) * u] for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


@pytest.mark.parametrize("cell, states", [("gru", 1), ("lstm", 2)])
def test_decoder_step_contract(cell, states):
    check_layer_contract(
        DecoderStep, {"units": 4, "cell": cell}, [(2, 3), (2, states, 4)], (2, states, 4)
    )


def test_decoder_step_matches_numpy_gru_and_lstm():
    x = random_inputs((3, 5), seed=1, low=-1.0)
    gru = DecoderStep(4, cell="gru")
    h = random_inputs((3, 1, 4), seed=2, low=-1.0)
    out = np.asarray(gru([x, h]))
    np.testing.assert_allclose(out[:, 0], reference_gru(gru.recurrent_cell, x, h[:, 0]), atol=1e-5)

    lstm = DecoderStep(4, cell="lstm")
    state = random_inputs((3, 2, 4), seed=3, low=-1.0)
    out = np.asarray(lstm([x, state]))
    want_h, want_c = reference_lstm(lstm.recurrent_cell, x, state[:, 0], state[:, 1])
    np.testing.assert_allclose(out[:, 0], want_h, atol=1e-5)
    np.testing.assert_allclose(out[:, 1], want_c, atol=1e-5)


def test_decoder_step_errors_for_users():
    with pytest.raises(ValueError, match="cell"):
        DecoderStep(4, cell="rnn")
    with pytest.raises(ValueError, match="units"):
        DecoderStep(0)
    with pytest.raises(ValueError, match="state"):
        DecoderStep(4, cell="lstm")([np.zeros((1, 3), "float32"), np.zeros((1, 1, 4), "float32")])


def test_prediction_embedding_contract():
    check_layer_contract(PredictionEmbedding, {"num_nodes": 5, "output_dim": 3}, (2, 5), (2, 3))


def test_prediction_embedding_matches_numpy():
    layer = PredictionEmbedding(4, 3)
    logits = random_inputs((6, 4), seed=4, low=-3.0, high=3.0)
    hard = np.asarray(layer(logits, training=False))
    table = np.asarray(layer.embeddings, "float64")
    np.testing.assert_allclose(hard, table[logits.argmax(axis=1)], atol=1e-6)
    soft = np.asarray(layer(logits, training=True))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(soft, probabilities @ table, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.lookup(np.array([2, 0]))), table[[2, 0]], atol=0)


def test_child_mask_contract():
    check_layer_contract(  # no weights: nothing to fit
        ChildMask, {"parents": [0, 0, 1, 2, -1]}, [(2, 3), (2, 5)], (2, 5), trains=False
    )


def test_child_mask_matches_numpy_and_keeps_predictions_under_the_parent():
    parents = np.array([0, 0, 1, 2, 2, -1])
    layer = ChildMask(parents.tolist())
    parent_logits = random_inputs((50, 3), seed=5, low=-2.0, high=2.0)
    child_logits = random_inputs((50, 6), seed=6, low=-2.0, high=2.0)
    out = np.asarray(layer([parent_logits, child_logits]))
    allowed = parents[None, :] == parent_logits.argmax(axis=1)[:, None]
    np.testing.assert_allclose(out, child_logits - MASK_OFFSET * ~allowed, atol=1e-3)
    assert np.all(parents[out.argmax(axis=1)] == parent_logits.argmax(axis=1))
    passthrough = ChildMask(parents.tolist(), active=False)
    np.testing.assert_array_equal(passthrough([parent_logits, child_logits]), child_logits)


def test_child_mask_errors_for_users():
    with pytest.raises(ValueError, match="parents"):
        ChildMask([])
    with pytest.raises(ValueError, match="parent level has 2 nodes"):
        ChildMask([0, 3])([np.zeros((1, 2), "float32"), np.zeros((1, 2), "float32")])
