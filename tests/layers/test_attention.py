import keras
import numpy as np
import pytest

from fgkeras.layers import CBAM, SoftAttentionPooling, SqueezeExcitation
from fgkeras.testing import check_layer_contract, random_inputs


def numpy_softmax_locations(scores):
    batch, height, width, heads = scores.shape
    flat = scores.reshape(batch, -1, heads)
    flat = np.exp(flat - flat.max(axis=1, keepdims=True))
    return (flat / flat.sum(axis=1, keepdims=True)).reshape(scores.shape)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_conv_same(x, kernel, bias):
    k = kernel.shape[0]
    pad = k // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros(x.shape[:3] + (kernel.shape[-1],), "float32")
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            window = padded[:, i : i + k, j : j + k, :]
            out[:, i, j, :] = np.einsum("bklc,klco->bo", window, kernel)
    return out + bias


def test_soft_attention_pooling_contract():
    check_layer_contract(SoftAttentionPooling, {"num_heads": 2}, (2, 3, 4, 5), (2, 10))
    check_layer_contract(
        SoftAttentionPooling, {"num_heads": 1, "hidden_units": 6}, (2, 3, 4, 5), (2, 5)
    )


@pytest.mark.parametrize("hidden_units", [None, 4])
def test_soft_attention_pooling_matches_numpy(hidden_units):
    x = random_inputs((2, 3, 4, 5), seed=3, low=-1, high=1)
    layer = SoftAttentionPooling(num_heads=3, hidden_units=hidden_units, return_attention=True)
    pooled, attention = (np.asarray(t) for t in layer(x))
    hidden = x
    if hidden_units:
        hidden = np.tanh(x @ np.asarray(layer.hidden_kernel) + np.asarray(layer.hidden_bias))
    expected_attention = numpy_softmax_locations(hidden @ np.asarray(layer.score_kernel))
    expected = np.einsum("bhwk,bhwc->bkc", expected_attention, x).reshape(2, -1)
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(attention.sum(axis=(1, 2)), np.ones((2, 3)), rtol=1e-5)


def test_soft_attention_with_uniform_scores_is_average_pooling():
    x = random_inputs((2, 3, 3, 4), seed=1)
    layer = SoftAttentionPooling()
    layer.build(x.shape)
    layer.score_kernel.assign(np.zeros((4, 1), "float32"))
    np.testing.assert_allclose(layer(x), x.mean(axis=(1, 2)), rtol=1e-5)


def test_soft_attention_symbolic_attention_shape():
    pooled, attention = SoftAttentionPooling(num_heads=2, return_attention=True)(
        keras.Input((5, 6, 7))
    )
    assert pooled.shape == (None, 14) and attention.shape == (None, 5, 6, 2)


def test_squeeze_excitation_contract():
    check_layer_contract(SqueezeExcitation, {"ratio": 2}, (2, 3, 3, 8), (2, 3, 3, 8))


def test_squeeze_excitation_matches_numpy():
    x = random_inputs((2, 3, 3, 8), seed=2)
    layer = SqueezeExcitation(ratio=4)
    out = np.asarray(layer(x))
    w = [np.asarray(v) for v in (layer.down, layer.down_bias, layer.up, layer.up_bias)]
    gate = sigmoid(np.maximum(x.mean(axis=(1, 2)) @ w[0] + w[1], 0) @ w[2] + w[3])
    np.testing.assert_allclose(out, x * gate[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_cbam_contract():
    check_layer_contract(CBAM, {"ratio": 2, "kernel_size": 3}, (2, 4, 5, 6), (2, 4, 5, 6))


def test_cbam_matches_numpy():
    x = random_inputs((2, 4, 5, 6), seed=4, low=-1, high=1)
    layer = CBAM(ratio=2, kernel_size=3, return_attention=True)
    out, gate = (np.asarray(t) for t in layer(x))
    down, down_b, up, up_b = (
        np.asarray(v) for v in (layer.down, layer.down_bias, layer.up, layer.up_bias)
    )

    def mlp(v):
        return np.maximum(v @ down + down_b, 0) @ up + up_b

    channel = sigmoid(mlp(x.mean(axis=(1, 2))) + mlp(x.max(axis=(1, 2))))
    y = x * channel[:, None, None, :]
    described = np.stack([y.mean(axis=-1), y.max(axis=-1)], axis=-1)
    spatial = sigmoid(
        numpy_conv_same(described, np.asarray(layer.spatial_kernel), np.asarray(layer.spatial_bias))
    )
    np.testing.assert_allclose(gate, spatial, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, y * spatial, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (SoftAttentionPooling, {"num_heads": 0}, "num_heads"),
        (SoftAttentionPooling, {"hidden_units": -1}, "hidden_units"),
        (SqueezeExcitation, {"ratio": 0}, "ratio"),
        (CBAM, {"kernel_size": 4}, "odd"),
    ],
)
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_rejects_non_feature_maps():
    with pytest.raises(ValueError, match="feature map"):
        SoftAttentionPooling()(keras.Input((5,)))


def test_spatial_softmax_contract_and_values():
    from fgkeras.layers import SpatialSoftmax

    check_layer_contract(SpatialSoftmax, {}, (2, 3, 4, 2), (2, 3, 4, 2))
    scores = random_inputs((2, 3, 4, 2), seed=6, low=-2, high=2)
    np.testing.assert_allclose(
        SpatialSoftmax()(scores), numpy_softmax_locations(scores), rtol=1e-5, atol=1e-7
    )


def test_class_activation_map_contract_and_values():
    from fgkeras.layers import ClassActivationMap

    check_layer_contract(ClassActivationMap, {}, (2, 3, 4, 5), (2, 3, 4, 1))
    scores = random_inputs((3, 3, 4, 5), seed=7, low=-1, high=1)
    top = scores.mean(axis=(1, 2)).argmax(axis=-1)
    cam = np.maximum(scores[np.arange(3), :, :, top], 0)
    cam /= cam.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(ClassActivationMap()(scores)[..., 0], cam, rtol=1e-5, atol=1e-6)
