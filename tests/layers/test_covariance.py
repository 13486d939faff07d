import numpy as np
import pytest

from fgkeras.layers import ISqrtCovPooling
from fgkeras.testing import check_layer_contract, random_inputs


def numpy_covariance(x):
    x = x.reshape(x.shape[0], -1, x.shape[-1]).astype("float64")
    centered = x - x.mean(axis=1, keepdims=True)
    return np.einsum("bli,blj->bij", centered, centered) / x.shape[1]


def numpy_newton_schulz(covariance, iterations, epsilon=1e-5):
    roots = []
    for sigma in covariance:
        trace = np.trace(sigma) + epsilon
        y, z = sigma / trace, np.eye(len(sigma))
        for _ in range(iterations):
            t = 0.5 * (3 * np.eye(len(sigma)) - z @ y)
            y, z = y @ t, t @ z
        roots.append(np.sqrt(trace) * y)
    return np.stack(roots)


def numpy_sqrtm(covariance):
    values, vectors = np.linalg.eigh(covariance)
    return np.einsum("bij,bj,bkj->bik", vectors, np.sqrt(np.clip(values, 0, None)), vectors)


def test_contract():
    check_layer_contract(ISqrtCovPooling, {"iterations": 3}, (2, 4, 4, 5), (2, 15))
    check_layer_contract(
        ISqrtCovPooling, {"iterations": 2, "upper_triangle": False}, (2, 4, 4, 3), (2, 9)
    )


def test_matches_numpy_iterations():
    x = random_inputs((2, 5, 5, 4), seed=3)
    actual = np.asarray(ISqrtCovPooling(iterations=5, upper_triangle=False)(x))
    expected = numpy_newton_schulz(numpy_covariance(x), 5).reshape(2, -1)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-6)


def test_converges_to_the_matrix_square_root():
    x = random_inputs((2, 6, 6, 4), seed=4)
    covariance = numpy_covariance(x)
    actual = np.asarray(ISqrtCovPooling(iterations=30, upper_triangle=False)(x)).reshape(2, 4, 4)
    np.testing.assert_allclose(actual, numpy_sqrtm(covariance), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(actual @ actual, covariance, rtol=1e-3, atol=1e-4)


def test_upper_triangle_order():
    x = random_inputs((1, 4, 4, 3), seed=5)
    full = np.asarray(ISqrtCovPooling(upper_triangle=False)(x)).reshape(3, 3)
    upper = np.asarray(ISqrtCovPooling()(x))[0]
    np.testing.assert_allclose(upper, full[np.triu_indices(3)], rtol=1e-6)


def test_constant_input_stays_finite():
    out = np.asarray(ISqrtCovPooling()(np.ones((1, 3, 3, 4), "float32")))
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("kwargs", [{"iterations": 0}, {"epsilon": 0.0}])
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ISqrtCovPooling(**kwargs)
