import numpy as np
import pytest

import fgkeras
from fgkeras.testing import assert_keras_round_trip, random_inputs

TINY_7X7 = {"backbone": "tiny", "weights": None, "input_shape": (28, 28, 3)}  # a 7×7 map


@pytest.mark.parametrize("non_power_of_two, leaf_side", [("pad", 8), ("pool", 4)])
def test_options_reach_the_tree_on_a_7x7_map(non_power_of_two, leaf_side):
    model = fgkeras.build(
        "tree_lstm", num_classes=3, units=16, non_power_of_two=non_power_of_two, **TINY_7X7
    )
    tree = model.get_layer("tree_lstm")
    assert model.get_layer("feature_map").output.shape[1:3] == (7, 7)
    assert tree.non_power_of_two == non_power_of_two and tree.units == 16
    assert model.get_layer("pooler").output.shape == (None, 16)
    regions = random_inputs((2, 7, 7, 256), seed=1)
    assert tree.node_states(regions)[0].shape == (2, leaf_side, leaf_side, 16)
    logits = assert_keras_round_trip(model, random_inputs((2, 28, 28, 3), high=255.0))(
        random_inputs((2, 28, 28, 3), high=255.0), training=False
    )
    assert logits.shape == (2, 3) and np.all(np.isfinite(logits))


def test_without_channel_reduction_the_tree_reads_the_backbone_channels():
    model = fgkeras.build("tree_lstm", num_classes=3, units=8, reduce_channels=None, **TINY_7X7)
    assert model.get_layer("tree_lstm").kernel.shape == (128, 32)
