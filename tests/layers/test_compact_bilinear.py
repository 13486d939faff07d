import keras
import numpy as np
import pytest

from fgkeras.layers import CompactBilinearPooling
from fgkeras.testing import check_layer_contract, random_inputs


def numpy_compact_bilinear(layer, a, b):
    """Reference from the layer's own fixed projections, with NumPy maths."""
    pa = keras.ops.convert_to_numpy(layer.projection_a)
    pb = keras.ops.convert_to_numpy(layer.projection_b)
    a = a.reshape(a.shape[0], -1, a.shape[-1]).astype("float64")
    b = b.reshape(b.shape[0], -1, b.shape[-1]).astype("float64")
    sketch_a, sketch_b = a @ pa, b @ pb
    d = layer.output_dim
    if layer.projection == "random_maclaurin":
        return (sketch_a * sketch_b).mean(axis=1) / np.sqrt(d)
    # Circular convolution of the two count sketches, computed directly.
    out = np.zeros((a.shape[0], a.shape[1], d))
    for shift in range(d):
        out += sketch_a[..., shift : shift + 1] * np.roll(sketch_b, shift, axis=-1)
    return out.mean(axis=1)


@pytest.mark.parametrize("projection", ["tensor_sketch", "random_maclaurin"])
def test_contract(projection):
    kwargs = {"output_dim": 32, "projection": projection, "seed": 3}
    check_layer_contract(CompactBilinearPooling, kwargs, (2, 3, 3, 5), (2, 32))
    check_layer_contract(CompactBilinearPooling, kwargs, [(2, 3, 3, 5), (2, 3, 3, 4)], (2, 32))


@pytest.mark.parametrize("projection", ["tensor_sketch", "random_maclaurin"])
def test_matches_numpy(projection):
    a, b = random_inputs((2, 3, 3, 6), seed=1), random_inputs((2, 3, 3, 5), seed=2)
    layer = CompactBilinearPooling(output_dim=16, projection=projection)
    actual = keras.ops.convert_to_numpy(layer([a, b]))
    np.testing.assert_allclose(actual, numpy_compact_bilinear(layer, a, b), rtol=1e-4, atol=1e-5)


def test_count_sketch_has_one_signed_entry_per_row():
    layer = CompactBilinearPooling(output_dim=64)
    layer(random_inputs((1, 2, 2, 10)))
    projection = keras.ops.convert_to_numpy(layer.projection_a)
    assert projection.shape == (10, 64)
    assert np.all(np.abs(projection).sum(axis=1) == 1)


@pytest.mark.parametrize("projection", ["tensor_sketch", "random_maclaurin"])
def test_approximates_the_bilinear_kernel(projection):
    # <psi(x), psi(y)> approximates <x, y>^2 (Gao et al., eq. 3), averaged over seeds.
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1, 1, 1, 8)), rng.normal(size=(1, 1, 1, 8))
    x, y = x.astype("float32"), (0.8 * x + 0.2 * y).astype("float32")
    estimates = []
    for seed in range(40):
        layer = CompactBilinearPooling(output_dim=2048, projection=projection, seed=seed)
        psi = keras.ops.convert_to_numpy(layer(np.concatenate([x, y])))
        estimates.append(float(psi[0] @ psi[1]))
    exact = float(x.ravel() @ y.ravel()) ** 2
    assert abs(np.mean(estimates) - exact) < 0.1 * exact


def test_seed_fixes_the_projection():
    x = random_inputs((1, 2, 2, 4))
    first = CompactBilinearPooling(output_dim=8, seed=5)(x)
    second = CompactBilinearPooling(output_dim=8, seed=5)(x)
    np.testing.assert_allclose(first, second)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"output_dim": 0}, "output_dim"), ({"projection": "fft"}, "projection")],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CompactBilinearPooling(**kwargs)
