"""The plain-Keras B-CNN reference of benchmarks/model_costs.py computes the zoo's function.

`model_costs.py` (its flagship part) times the zoo's VGG16 B-CNN against that reference;
the comparison means something only while the two compute the same logits.
Here at 32 px (a 2×2 relu5_3 map) and 3 classes, so it runs in seconds.
"""

import importlib
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("model_costs")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def pair(bench):
    return bench.flagship_pair(32, num_classes=3)


def test_reference_matches_the_zoo_model(bench, pair):
    zoo, reference, diff = pair  # flagship_pair raises unless the logits agree
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        reference.predict_on_batch(x), zoo.predict_on_batch(x), rtol=1e-4, atol=1e-6
    )
    assert zoo.count_params() == reference.count_params()
    assert reference.get_layer("block5_conv3").output.shape == (None, 2, 2, 512)
    assert not any(layer.__module__.startswith("fgkeras") for layer in reference.layers)


def test_self_check_fails_loudly_on_another_function(bench, pair):
    zoo, reference, _ = pair
    layer = reference.get_layer("block5_conv3")
    kernel, bias = layer.get_weights()
    try:
        noise = np.random.default_rng(0).normal(0, kernel.std(), kernel.shape)
        layer.set_weights([kernel + noise.astype(kernel.dtype), bias])
        with pytest.raises(AssertionError, match="different functions"):
            bench.check_same_function(zoo, reference)
    finally:
        layer.set_weights([kernel, bias])
