"""RecurrentAttention, SelectStep, DoublyStochasticPenalty: contract and NumPy reference."""

import numpy as np
import pytest

from fgkeras.layers import DoublyStochasticPenalty, RecurrentAttention, SelectStep
from fgkeras.testing import check_layer_contract, random_inputs


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def numpy_recurrent_attention(layer, feature_map):
    """One forward pass of `RecurrentAttention` from its weights: (readouts, maps)."""
    w = {
        name: np.asarray(getattr(layer, name))
        for name in (
            "init_h_kernel",
            "init_h_bias",
            "init_c_kernel",
            "init_c_bias",
            "feature_kernel",
            "hidden_kernel",
            "attention_bias",
            "score_kernel",
        )
    }
    kernel, recurrent = np.asarray(layer.cell.kernel), np.asarray(layer.cell.recurrent_kernel)
    bias = np.asarray(layer.cell.bias)
    batch, height, width, channels = feature_map.shape
    f = feature_map.reshape(batch, -1, channels).astype("float64")
    mean = f.mean(axis=1)
    h = np.tanh(mean @ w["init_h_kernel"] + w["init_h_bias"])
    c = np.tanh(mean @ w["init_c_kernel"] + w["init_c_bias"])
    readouts, maps = [], []
    for _ in range(layer.steps):
        scores = np.tanh(
            f @ w["feature_kernel"] + (h @ w["hidden_kernel"])[:, None] + w["attention_bias"]
        )
        alpha = softmax((scores @ w["score_kernel"])[..., 0])
        z = np.einsum("bl,blc->bc", alpha, f)
        gates = z @ kernel + h @ recurrent + bias
        i, fg, g, o = np.split(gates, 4, axis=-1)  # keras LSTMCell order: i, f, c, o
        c = sigmoid(fg) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        readouts.append(np.concatenate([h, z], axis=-1))
        maps.append(alpha.reshape(batch, height, width))
    return np.stack(readouts, axis=1), np.stack(maps, axis=-1)


def test_recurrent_attention_contract():
    args = {"units": 5, "steps": 2, "attention_units": 3}
    check_layer_contract(RecurrentAttention, args, (2, 3, 4, 6), (2, 11))
    check_layer_contract(
        RecurrentAttention, {**args, "return_sequences": True}, (2, 3, 4, 6), (2, 2, 11)
    )


def test_recurrent_attention_matches_numpy():
    layer = RecurrentAttention(
        7, steps=3, attention_units=4, return_sequences=True, return_attention=True
    )
    x = random_inputs((2, 3, 4, 5), seed=3, low=-1.0, high=1.0)
    readouts, maps = (np.asarray(t) for t in layer(x))
    expected_readouts, expected_maps = numpy_recurrent_attention(layer, x)
    assert readouts.shape == (2, 3, 12) and maps.shape == (2, 3, 4, 3)
    np.testing.assert_allclose(maps, expected_maps, atol=1e-5)
    np.testing.assert_allclose(readouts, expected_readouts, atol=1e-5)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), np.ones((2, 3)), atol=1e-5)
    assert layer.compute_output_shape((2, 3, 4, 5)) == ((2, 3, 12), (2, 3, 4, 3))
    # Without return_sequences: the last readout, same weights.
    layer.return_sequences, layer.return_attention = False, False
    np.testing.assert_allclose(np.asarray(layer(x)), expected_readouts[:, -1], atol=1e-5)


def test_select_step_contract_and_values():
    check_layer_contract(
        SelectStep, {"index": 1, "axis": -1, "keepdims": True}, (2, 3, 4, 3), (2, 3, 4, 1)
    )
    check_layer_contract(SelectStep, {"index": -1, "axis": 1}, (2, 3, 5), (2, 5))
    x = random_inputs((2, 3, 5))
    np.testing.assert_array_equal(SelectStep(-1)(x), x[:, -1])
    np.testing.assert_array_equal(SelectStep(0, axis=2, keepdims=True)(x), x[:, :, :1])


def test_doubly_stochastic_penalty_matches_numpy():
    check_layer_contract(
        DoublyStochasticPenalty, {"strength": 0.3}, [(2, 5), (2, 3, 4, 1), (2, 3, 4, 1)], (2, 5)
    )
    x = random_inputs((2, 5))
    maps = [random_inputs((2, 3, 4, 1), seed=s) for s in (1, 2, 3)]
    layer = DoublyStochasticPenalty(0.3)
    np.testing.assert_array_equal(layer([x, *maps]), x)
    coverage = sum(m.astype("float64") for m in maps)
    expected = 0.3 * ((1.0 - coverage) ** 2).sum(axis=(1, 2, 3)).mean()
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-5)
    silent = DoublyStochasticPenalty(0.0)
    silent([x, *maps])
    assert silent.losses == []


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: RecurrentAttention(0), "units"),
        (lambda: RecurrentAttention(4, steps=0), "steps"),
        (lambda: RecurrentAttention(4, attention_units=2.5), "attention_units"),
        (lambda: SelectStep(1.0), "index"),
        (lambda: SelectStep(0, axis=0), "axis"),
        (lambda: DoublyStochasticPenalty(-1.0), "strength"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=f"Received: {match}"):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match="feature map"):
        RecurrentAttention(4)(np.zeros((2, 3, 5), "float32"))
    with pytest.raises(ValueError, match="Received: input_shape"):
        SelectStep(3, axis=1)(np.zeros((2, 3, 5), "float32"))
    with pytest.raises(ValueError, match="maps_1"):
        DoublyStochasticPenalty(1.0)([np.zeros((2, 5), "float32")])
