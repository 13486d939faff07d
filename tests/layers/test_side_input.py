import keras
import numpy as np
import pytest

from fgkeras.layers import FeatureModulation, SideVector
from fgkeras.testing import check_layer_contract, random_inputs


@pytest.mark.parametrize("columns", [None, [0, 3]])
def test_side_vector_contract(columns):
    width = 2 * (4 if columns is None else len(columns))
    check_layer_contract(SideVector, {"columns": columns, "drop_rate": 0.2, "seed": 1}, (3, 4),
                         (3, width), trains=False)  # fmt: skip


def reference_side_vector(x, columns=None):
    """[values with NaN → 0, known flags] in NumPy."""
    x = np.asarray(x, np.float64)
    x = x if columns is None else x[:, columns]
    known = ~np.isnan(x)
    return np.concatenate([np.where(known, x, 0.0), known.astype(np.float64)], axis=1)


def test_side_vector_matches_numpy_and_marks_unknown_entries():
    x = np.array([[1.0, np.nan, 0.0, 0.5], [np.nan, np.nan, np.nan, np.nan]], "float32")
    for columns in (None, [3, 0]):
        got = np.asarray(SideVector(columns=columns)(x))
        np.testing.assert_array_equal(got, reference_side_vector(x, columns))


def test_side_vector_drops_whole_vectors_in_training_only():
    x = np.ones((2000, 3), "float32")
    layer = SideVector(drop_rate=0.3, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(x)), np.ones((2000, 6)))
    dropped = np.asarray(layer(x, training=True))
    hidden = np.all(dropped == 0.0, axis=1)  # values and flags zero together
    assert np.all(hidden | np.all(dropped == 1.0, axis=1))
    assert 0.25 < hidden.mean() < 0.35


@pytest.mark.parametrize(
    "kwargs, message",
    [({"columns": []}, "at least one"), ({"drop_rate": 1.0}, "drop_rate"),
     ({"columns": [-1]}, "columns")],
)  # fmt: skip
def test_side_vector_bad_config_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SideVector(**kwargs)


def test_side_vector_column_outside_the_input_is_named():
    with pytest.raises(ValueError, match="entry 5 of a side vector of 4"):
        SideVector(columns=[5])(keras.Input((4,)))


def test_feature_modulation_contract():
    check_layer_contract(FeatureModulation, {}, [(2, 3, 3, 5), (2, 4)], (2, 3, 3, 5))


def test_feature_modulation_matches_numpy_film():
    fmap, side = random_inputs((2, 3, 3, 5)), random_inputs((2, 4), seed=1)
    layer = FeatureModulation()
    layer([fmap, side])
    kernel = random_inputs((4, 10), seed=2, low=-1.0)
    bias = random_inputs((10,), seed=3, low=-1.0)
    layer.set_weights([kernel, bias])
    film = side.astype(np.float64) @ kernel + bias
    gamma, beta = film[:, :5], film[:, 5:]
    expected = fmap * (1.0 + gamma[:, None, None, :]) + beta[:, None, None, :]
    np.testing.assert_allclose(np.asarray(layer([fmap, side])), expected, rtol=1e-5, atol=1e-6)


def test_feature_modulation_starts_as_the_identity():
    fmap, side = random_inputs((2, 3, 3, 5)), random_inputs((2, 4), seed=1)
    np.testing.assert_array_equal(np.asarray(FeatureModulation()([fmap, side])), fmap)
