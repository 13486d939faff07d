import keras
import numpy as np
import pytest

from fgkeras.layers import BilinearPooling, SignedSqrtL2Normalization
from fgkeras.testing import check_layer_contract, random_inputs


def numpy_bilinear(a, b):
    batch, height, width, _ = a.shape
    a = a.reshape(batch, height * width, -1)
    b = b.reshape(batch, height * width, -1)
    return np.einsum("bli,blj->bij", a, b).reshape(batch, -1) / (height * width)


def test_bilinear_symmetric_contract():
    check_layer_contract(BilinearPooling, {}, (2, 3, 4, 5), (2, 25))


def test_bilinear_two_stream_contract():
    check_layer_contract(BilinearPooling, {}, [(2, 3, 4, 5), (2, 3, 4, 6)], (2, 30))


def test_bilinear_matches_numpy():
    a, b = random_inputs((2, 3, 4, 5), seed=1), random_inputs((2, 3, 4, 6), seed=2)
    np.testing.assert_allclose(BilinearPooling()([a, b]), numpy_bilinear(a, b), rtol=1e-5)
    np.testing.assert_allclose(BilinearPooling()(a), numpy_bilinear(a, a), rtol=1e-5)


def test_bilinear_hand_case():
    # Two locations, one-hot features: the average outer product is known.
    a = np.array([[[[1.0, 0.0]], [[0.0, 2.0]]]], "float32")  # (1, 2, 1, 2)
    np.testing.assert_allclose(BilinearPooling()(a), [[0.5, 0.0, 0.0, 2.0]])


def test_bilinear_rejects_mismatched_grids():
    with pytest.raises(ValueError, match="same height and width"):
        BilinearPooling()([keras.Input((3, 4, 5)), keras.Input((6, 4, 5))])


def test_bilinear_rejects_wrong_rank():
    with pytest.raises(ValueError, match="rank 4"):
        BilinearPooling()(keras.Input((5,)))


def test_signed_sqrt_l2_contract():
    check_layer_contract(SignedSqrtL2Normalization, {"epsilon": 1e-6}, (3, 7), (3, 7))


def test_signed_sqrt_l2_matches_numpy():
    x = random_inputs((4, 9), low=-3, high=3)
    eps = 1e-8
    expected = np.sign(x) * np.sqrt(np.abs(x) + eps)
    expected /= np.linalg.norm(expected, axis=-1, keepdims=True)
    np.testing.assert_allclose(SignedSqrtL2Normalization()(x), expected, rtol=1e-5)


def test_signed_sqrt_l2_gradient_finite_at_zero():
    import tensorflow as tf

    x = tf.zeros((2, 4))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(SignedSqrtL2Normalization()(x))
    assert np.all(np.isfinite(tape.gradient(y, x)))


def test_signed_sqrt_l2_rejects_bad_epsilon():
    with pytest.raises(ValueError, match="epsilon"):
        SignedSqrtL2Normalization(epsilon=0)
