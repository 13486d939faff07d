import keras
import numpy as np
import pytest

from fgkeras.layers import BilinearAttentionPooling, ChannelGroupingAttention
from fgkeras.testing import check_layer_contract, random_inputs


def test_bap_contract():
    check_layer_contract(BilinearAttentionPooling, {}, [(2, 3, 4, 5), (2, 3, 4, 2)], (2, 10))
    check_layer_contract(
        BilinearAttentionPooling, {"normalize": False}, [(2, 3, 4, 5), (2, 3, 4, 2)], (2, 10)
    )


def test_bap_matches_numpy():
    features = random_inputs((2, 3, 4, 5), seed=1, low=-1, high=1)
    maps = random_inputs((2, 3, 4, 2), seed=2)
    raw = np.einsum("bhwm,bhwc->bmc", maps, features).reshape(2, -1) / 12
    np.testing.assert_allclose(
        BilinearAttentionPooling(normalize=False)([features, maps]), raw, rtol=1e-5, atol=1e-6
    )
    signed = np.sign(raw) * np.sqrt(np.abs(raw) + 1e-12)
    expected = signed / np.linalg.norm(signed, axis=-1, keepdims=True)
    np.testing.assert_allclose(
        BilinearAttentionPooling()([features, maps]), expected, rtol=1e-5, atol=1e-6
    )


def test_bap_uniform_feature_gradient_contract():
    check_layer_contract(
        BilinearAttentionPooling,
        {"normalize": False, "reduction": "sum", "feature_gradient": "uniform"},
        [(2, 3, 4, 5), (2, 3, 4, 2)],
        (2, 10),
    )


@pytest.mark.parametrize("normalize, reduction", [(False, "sum"), (True, "mean")])
def test_bap_uniform_feature_gradient_keeps_output_and_map_gradient(normalize, reduction):
    import tensorflow as tf

    features = tf.constant(random_inputs((2, 3, 4, 5), seed=1, low=-1, high=1))
    maps = tf.constant(random_inputs((2, 3, 4, 2), seed=2))
    weights = tf.constant(random_inputs((2, 10), seed=3, low=-1, high=1))

    def run(feature_gradient):
        layer = BilinearAttentionPooling(
            normalize, reduction=reduction, feature_gradient=feature_gradient
        )
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([features, maps])
            out = layer([features, maps], training=True)
            loss = tf.reduce_sum(out * weights)
        return out, tape.gradient(loss, features), tape.gradient(loss, maps)

    plain, uniform = run("attention"), run("uniform")
    np.testing.assert_allclose(uniform[0], plain[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(uniform[2], plain[2], rtol=1e-5, atol=1e-6)
    assert not np.allclose(uniform[1], plain[1])
    if not normalize:  # d(sum_kc w_kc parts_kc)/dF_lc = sum_k w_kc mean_l'(A_kl')
        expected = np.einsum(
            "bk,bkc->bc", maps.numpy().mean(axis=(1, 2)), weights.numpy().reshape(2, 2, 5)
        )
        np.testing.assert_allclose(
            uniform[1], np.broadcast_to(expected[:, None, None], (2, 3, 4, 5)), rtol=1e-5, atol=1e-6
        )


def test_bap_uniform_feature_gradient_is_for_training_only():
    import tensorflow as tf

    features = tf.constant(random_inputs((1, 2, 2, 3), seed=4, low=-1, high=1))
    maps = tf.constant(random_inputs((1, 2, 2, 1), seed=5))
    gradients = []
    for layer, training in (
        (BilinearAttentionPooling(False, reduction="sum", feature_gradient="uniform"), False),
        (BilinearAttentionPooling(False, reduction="sum"), True),
    ):
        with tf.GradientTape() as tape:
            tape.watch(features)
            loss = tf.reduce_sum(layer([features, maps], training=training))
        gradients.append(tape.gradient(loss, features))
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-6)  # the true gradient
    np.testing.assert_allclose(gradients[0][0, :, :, 0], maps[0, :, :, 0], rtol=1e-6)


def test_bap_rejects_unknown_feature_gradient():
    with pytest.raises(ValueError, match="feature_gradient.*'straight'"):
        BilinearAttentionPooling(feature_gradient="straight")


def test_bap_rejects_mismatched_grids():
    with pytest.raises(ValueError, match="same height and width"):
        BilinearAttentionPooling()([keras.Input((3, 4, 5)), keras.Input((4, 4, 2))])


def test_channel_grouping_contract():
    check_layer_contract(
        ChannelGroupingAttention, {"num_parts": 3, "hidden_units": 4}, (2, 4, 4, 6), (2, 4, 4, 3)
    )


def test_channel_grouping_matches_numpy():
    x = random_inputs((2, 4, 5, 6), seed=3)
    layer = ChannelGroupingAttention(num_parts=3, hidden_units=4)
    out = np.asarray(layer(x))
    k1, b1, k2, b2 = (
        np.asarray(w) for w in (layer.kernel_1, layer.bias_1, layer.kernel_2, layer.bias_2)
    )
    hidden = np.tanh(np.einsum("bc,pch->bph", x.mean(axis=(1, 2)), k1) + b1)
    d = 1 / (1 + np.exp(-(np.einsum("bph,phc->bpc", hidden, k2) + b2)))
    grouped = np.einsum("bhwc,bpc->bhwp", x, d) / d.sum(-1)[:, None, None, :]
    z = (grouped - grouped.mean(axis=(1, 2), keepdims=True)) / np.sqrt(
        grouped.var(axis=(1, 2), keepdims=True) + 1e-6
    )
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-z)), rtol=1e-4, atol=1e-5)


def test_channel_grouping_bad_arguments():
    with pytest.raises(ValueError, match="num_parts"):
        ChannelGroupingAttention(num_parts=0)


def test_bap_sum_reduction_is_soft_attention_pooling():
    features = random_inputs((2, 3, 4, 5), seed=4)
    maps = random_inputs((2, 3, 4, 2), seed=5)
    expected = np.einsum("bhwm,bhwc->bmc", maps, features).reshape(2, -1)
    layer = BilinearAttentionPooling(normalize=False, reduction="sum")
    np.testing.assert_allclose(layer([features, maps]), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        BilinearAttentionPooling(reduction="max")
