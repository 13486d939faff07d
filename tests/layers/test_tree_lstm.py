import keras
import numpy as np
import pytest

from fgkeras.layers import QuadtreeTreeLSTM
from fgkeras.testing import check_layer_contract, random_inputs


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def adaptive_pool(image, side):
    """Adaptive average pooling of one (h, w, c) image to (side, side, c), cell by cell."""
    height, width = image.shape[:2]
    out = np.zeros((side, side, image.shape[2]))
    for r in range(side):
        r0, r1 = r * height // side, -(-(r + 1) * height // side)
        for c in range(side):
            c0, c1 = c * width // side, -(-(c + 1) * width // side)
            out[r, c] = image[r0:r1, c0:c1].mean(axis=(0, 1))
    return out


def reference_tree_lstm(layer, features, shared_forget_gate=False):
    """Plain NumPy Child-Sum Tree-LSTM, node by node, recursively over the quadtree.

    Returns (hidden states per level, leaves first, as in `node_states`; and
    the forget gates of every parent, (num_children, units) each).
    ``shared_forget_gate`` computes one gate from h̃ for all children instead
    (what a plain LSTM would do), to show the per-child gates matter.
    """
    kernel, recurrent, forget_kernel, bias = (
        np.asarray(w, "float64")
        for w in (layer.kernel, layer.recurrent_kernel, layer.forget_kernel, layer.bias)
    )
    u = layer.units
    batch, height, width, _ = features.shape
    if layer.non_power_of_two == "pad":
        side = 1
        while side < max(height, width):
            side *= 2
        grids = features.astype("float64")
    else:
        side = 1
        while side * 2 <= min(height, width):
            side *= 2
        grids = np.stack([adaptive_pool(image, side) for image in features.astype("float64")])
        height = width = side
    levels = side.bit_length()
    states = [np.zeros((batch, side >> lv, side >> lv, u)) for lv in range(levels)]
    forget_gates = []

    def node(b, top, left, size, level):
        rows, cols = slice(top, min(top + size, height)), slice(left, min(left + size, width))
        region = grids[b, rows, cols]
        if region.size == 0:
            return None  # only padding under this node: not a node of the tree
        z = region.mean(axis=(0, 1)) @ kernel + bias
        zi, zo, zu, zf = (z[k * u : (k + 1) * u] for k in range(4))
        if size == 1:
            cell = sigmoid(zi) * np.tanh(zu)
            hidden = sigmoid(zo) * np.tanh(cell)
        else:
            half = size // 2
            children = [
                node(b, top + dy * half, left + dx * half, half, level - 1)
                for dy in (0, 1)
                for dx in (0, 1)
            ]
            children = [child for child in children if child is not None]
            h_sum = sum(h for h, _ in children)
            r = h_sum @ recurrent
            ri, ro, ru = (r[k * u : (k + 1) * u] for k in range(3))
            if shared_forget_gate:
                gates = [sigmoid(zf + h_sum @ forget_kernel)] * len(children)
            else:
                gates = [sigmoid(zf + h @ forget_kernel) for h, _ in children]
            forget_gates.append(np.stack(gates))
            cell = sigmoid(zi + ri) * np.tanh(zu + ru)
            cell = cell + sum(f * c for f, (_, c) in zip(gates, children))
            hidden = sigmoid(zo + ro) * np.tanh(cell)
        states[level][b, top // size, left // size] = hidden
        return hidden, cell

    for b in range(batch):
        node(b, 0, 0, side, levels - 1)
    return states, forget_gates


@pytest.mark.parametrize(
    "shape, non_power_of_two, sides",
    [
        ((2, 8, 8, 3), "pad", [8, 4, 2, 1]),
        ((2, 8, 8, 3), "pool", [8, 4, 2, 1]),
        ((2, 7, 7, 3), "pad", [8, 4, 2, 1]),
        ((2, 7, 7, 3), "pool", [4, 2, 1]),
        ((1, 14, 14, 3), "pad", [16, 8, 4, 2, 1]),
        ((1, 14, 14, 3), "pool", [8, 4, 2, 1]),
        ((2, 5, 11, 3), "pad", [16, 8, 4, 2, 1]),
        ((2, 5, 11, 3), "pool", [4, 2, 1]),
    ],
)
def test_matches_recursive_numpy_reference(shape, non_power_of_two, sides):
    features = random_inputs(shape, seed=1, low=-1.0, high=1.0)
    layer = QuadtreeTreeLSTM(5, non_power_of_two=non_power_of_two)
    layer.build(shape)
    # Random biases, so that the forget-gate bias of 1 is not the only one.
    layer.bias.assign(random_inputs((20,), seed=2, low=-1.0, high=1.0))
    root = np.asarray(layer(features))
    levels = [np.asarray(h) for h in layer.node_states(features)]
    expected, _ = reference_tree_lstm(layer, features)
    assert [h.shape[1] for h in levels] == sides
    for actual, wanted in zip(levels, expected):
        np.testing.assert_allclose(actual, wanted, atol=1e-5)
    np.testing.assert_allclose(root, expected[-1][:, 0, 0], atol=1e-5)


def test_per_child_forget_gates_are_distinct_and_used():
    features = random_inputs((1, 8, 8, 3), seed=3, low=-1.0, high=1.0)
    layer = QuadtreeTreeLSTM(6)
    root = np.asarray(layer(features))
    expected, gates = reference_tree_lstm(layer, features)
    shared, _ = reference_tree_lstm(layer, features, shared_forget_gate=True)
    assert len(gates) == 16 + 4 + 1 and all(g.shape == (4, 6) for g in gates)
    # Each parent's four children get four different gates ...
    spread = np.array([np.abs(g[:, None] - g[None, :]).max() for g in gates])
    assert spread.min() > 1e-3
    # ... and the layer computes those (a gate shared by all children differs).
    np.testing.assert_allclose(root, expected[-1][:, 0, 0], atol=1e-5)
    assert np.abs(shared[-1][:, 0, 0] - root).max() > 1e-4


def test_leaf_only_change_in_one_quadrant_reaches_the_root():
    features = random_inputs((1, 8, 8, 3), seed=4, low=-1.0, high=1.0)
    layer = QuadtreeTreeLSTM(6)
    before = [np.asarray(h) for h in layer.node_states(features)]
    # +d on one cell and -d on its sibling: the block's mean, hence every
    # internal node's input x_j, is unchanged; only two leaves see it.
    changed = features.copy()
    changed[0, 0, 0] += 0.5
    changed[0, 0, 1] -= 0.5
    after = [np.asarray(h) for h in layer.node_states(changed)]
    for level, (old, new) in enumerate(zip(before, after)):
        moved = np.abs(new - old).max(axis=-1)[0]
        changed_nodes = [(0, 0), (0, 1)] if level == 0 else [(0, 0)]  # the two leaves' ancestors
        for r, c in changed_nodes:
            assert moved[r, c] > 1e-6, f"level {level}: the change did not reach node {(r, c)}"
            moved[r, c] = 0.0
        assert moved.max() == 0.0, f"level {level}: nodes outside the top-left quadrant changed"
    # Swapping two siblings changes two leaves but no parent: Child-Sum is
    # invariant to the order of the children.
    swapped = features.copy()
    swapped[0, 0, [0, 1]] = swapped[0, 0, [1, 0]]
    np.testing.assert_allclose(np.asarray(layer(swapped)), before[-1][:, 0, 0], atol=1e-6)


def test_contract():
    check_layer_contract(QuadtreeTreeLSTM, {"units": 4}, (2, 8, 8, 3), (2, 4))
    check_layer_contract(
        QuadtreeTreeLSTM, {"units": 4, "non_power_of_two": "pool"}, (2, 7, 5, 3), (2, 4)
    )


def test_config_is_the_init_arguments():
    layer = QuadtreeTreeLSTM(7, non_power_of_two="pool", name="tree")
    config = layer.get_config()
    assert config["units"] == 7 and config["non_power_of_two"] == "pool"
    assert QuadtreeTreeLSTM.from_config(config).get_config() == config


def test_forget_bias_starts_at_one():
    layer = QuadtreeTreeLSTM(3)
    layer.build((None, 4, 4, 2))
    np.testing.assert_array_equal(np.asarray(layer.bias), [0] * 9 + [1] * 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": 0}, "units"),
        ({"units": 2.5}, "units"),
        ({"units": 4, "non_power_of_two": "crop"}, "non_power_of_two"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"{match}.*Received: {match}="):
        QuadtreeTreeLSTM(**kwargs)


def test_unknown_spatial_size_is_refused():
    with pytest.raises(ValueError, match="known height and width.*Received: input_shape"):
        QuadtreeTreeLSTM(4)(keras.Input((None, None, 3)))
