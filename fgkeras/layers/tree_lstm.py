"""Child-Sum Tree-LSTM over a spatial quadtree of region features.

Tai, Socher and Manning, "Improved Semantic Representations From
Tree-Structured Long Short-Term Memory Networks", ACL 2015
(https://arxiv.org/abs/1503.00075). The tree is the quadtree of a feature
map: the leaves are its cells, each parent is a 2×2 block of the level
below, the root is the whole image. For node j with children C(j) and
input x_j (the mean feature of the node's region):

    h̃_j  = Σ_k h_k
    i_j  = σ(W_i x_j + U_i h̃_j + b_i)
    f_jk = σ(W_f x_j + U_f h_k + b_f)      one forget gate per child k
    o_j  = σ(W_o x_j + U_o h̃_j + b_o)
    u_j  = tanh(W_u x_j + U_u h̃_j + b_u)
    c_j  = i_j ⊙ u_j + Σ_k f_jk ⊙ c_k
    h_j  = o_j ⊙ tanh(c_j)

Leaves have no children (h̃ = 0, no forget term). Each level is one
(batch, s, s, ·) grid computed at once with `keras.ops`; the only Python loop
is over the log2(side) levels.
"""

import keras
import numpy as np
from keras import ops

from fgkeras.checks import check_int
from fgkeras.layers.attention import _check_feature_map

NON_POWER_OF_TWO = ("pad", "pool")


def quadtree_side(height: int, width: int, non_power_of_two: str = "pad") -> int:
    """Side of the square power-of-two leaf grid of a (height, width) feature map.

    "pad": the smallest power of two ≥ max(height, width); "pool": the
    largest power of two ≤ min(height, width).

    >>> quadtree_side(14, 14), quadtree_side(14, 14, "pool"), quadtree_side(7, 12)
    (16, 8, 16)
    """
    if non_power_of_two == "pad":
        return 1 << (max(height, width) - 1).bit_length()
    return 1 << (min(height, width).bit_length() - 1)


def adaptive_pooling_matrix(size: int, target: int) -> np.ndarray:
    """(target, size) matrix whose row i averages the cells of bin i.

    Bin i is [⌊i·size/target⌋, ⌈(i+1)·size/target⌉), as in adaptive average
    pooling (bins of neighbouring outputs may share a cell).

    >>> adaptive_pooling_matrix(3, 2).tolist()
    [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]
    """
    matrix = np.zeros((target, size), "float64")
    for i in range(target):
        start, stop = (i * size) // target, -((-(i + 1) * size) // target)
        matrix[i, start:stop] = 1.0 / (stop - start)
    return matrix


def quadtree_children(grid):
    """(batch, 2s, 2s, d) grid → (batch, s, s, 4, d): each node's 2×2 block below.

    Child k of node (r, c) is cell (2r + k // 2, 2c + k % 2).

    >>> grid = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> np.asarray(quadtree_children(grid))[0, 0, 1, :, 0].tolist()
    [2.0, 3.0, 6.0, 7.0]
    """
    side, depth = grid.shape[1] // 2, grid.shape[-1]
    blocks = ops.reshape(grid, (-1, side, 2, side, 2, depth))
    blocks = ops.transpose(blocks, (0, 1, 3, 2, 4, 5))
    return ops.reshape(blocks, (-1, side, side, 4, depth))


def _split(tensor, units, parts):
    return [tensor[..., k * units : (k + 1) * units] for k in range(parts)]


def _forget_bias_initializer(units):
    def initializer(shape, dtype=None):
        return ops.concatenate([ops.zeros((3 * units,), dtype), ops.ones((units,), dtype)])

    return initializer


@keras.saving.register_keras_serializable(package="fgkeras")
class QuadtreeTreeLSTM(keras.layers.Layer):
    """Child-Sum Tree-LSTM over the quadtree of a feature map; returns the root state.

    Called on a (batch, h, w, c) feature map with static h and w; returns the
    root's hidden state (batch, units). Every node's input x_j is the mean
    feature of its region (leaves: one cell; parents: 2×2 average pooling of
    the level below), mapped by the gate kernels W directly from c channels
    (reduce channels before the layer to keep W small). The forget-gate bias
    starts at 1, as in Keras' LSTM. https://arxiv.org/abs/1503.00075

    Maps whose side is not a power of two (and non-square maps) become one
    power-of-two square S × S of leaves:

    - "pad": S is the next power of two ≥ max(h, w); the map sits at the top
      left and the padding cells are not nodes at all: a node whose region
      holds no real cell is dropped (h = c = 0), so parents on the border
      have fewer than 4 children and every region's input is the mean over
      its real cells. This is the Child-Sum recursion on the quadtree of the
      original map; nothing is resampled.
    - "pool": S is the largest power of two ≤ min(h, w); the map is
      adaptive-average-pooled to S × S (bins of `adaptive_pooling_matrix`)
      and every node has 4 children. Fewer leaves, coarser detail.

    Weights: ``kernel`` (c, 4·units) for the gates [i, o, u, f] from x_j;
    ``recurrent_kernel`` (units, 3·units) for [i, o, u] from h̃_j;
    ``forget_kernel`` (units, units) U_f for f_jk from each child's h_k;
    ``bias`` (4·units).

    Args:
        units: size of every node's hidden and cell state.
        non_power_of_two: "pad" or "pool", how a map whose sides are not one
            power of two becomes the leaf grid (see above). Defaults to "pad".

    >>> layer = QuadtreeTreeLSTM(8)
    >>> x = np.ones((2, 7, 7, 4), "float32")
    >>> tuple(layer(x).shape)
    (2, 8)
    >>> [tuple(h.shape) for h in layer.node_states(x)]
    [(2, 8, 8, 8), (2, 4, 4, 8), (2, 2, 2, 8), (2, 1, 1, 8)]
    """

    def __init__(self, units, non_power_of_two="pad", **kwargs):
        super().__init__(**kwargs)
        self.units = check_int("units", units)
        if non_power_of_two not in NON_POWER_OF_TWO:
            raise ValueError(
                f"`non_power_of_two` must be one of {list(NON_POWER_OF_TWO)}. "
                f"Received: non_power_of_two={non_power_of_two!r}"
            )
        self.non_power_of_two = non_power_of_two

    def _grid_shape(self, input_shape):
        channels = _check_feature_map(input_shape, "QuadtreeTreeLSTM")
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError(
                "QuadtreeTreeLSTM needs a feature map of known height and width (the "
                "quadtree is built from them); give the model a fixed input_shape. "
                f"Received: input_shape={input_shape}"
            )
        return int(height), int(width), channels

    def build(self, input_shape):
        height, width, channels = self._grid_shape(input_shape)
        units = self.units
        self.kernel = self.add_weight(shape=(channels, 4 * units), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(units, 3 * units), initializer="orthogonal", name="recurrent_kernel"
        )
        self.forget_kernel = self.add_weight(
            shape=(units, units), initializer="orthogonal", name="forget_kernel"
        )
        self.bias = self.add_weight(
            shape=(4 * units,), initializer=_forget_bias_initializer(units), name="bias"
        )
        side = quadtree_side(height, width, self.non_power_of_two)
        self._side, self._height, self._width = side, height, width
        # Real cells under each node, level by level (leaves first): the
        # divisor of the region means and, where 0, the nodes that do not exist.
        counts = np.zeros((side, side), "float64")
        if self.non_power_of_two == "pad":
            counts[:height, :width] = 1.0
        else:
            counts[:] = 1.0
            self._pool_rows = adaptive_pooling_matrix(height, side)
            self._pool_cols = adaptive_pooling_matrix(width, side)
        self._counts = [counts]
        while counts.shape[0] > 1:
            half = counts.shape[0] // 2
            counts = counts.reshape(half, 2, half, 2).sum(axis=(1, 3))
            self._counts.append(counts)

    def _leaf_grid(self, features):
        side, height, width = self._side, self._height, self._width
        if height == width == side:
            return features
        if self.non_power_of_two == "pad":
            return ops.pad(features, [[0, 0], [0, side - height], [0, side - width], [0, 0]])
        rows = ops.convert_to_tensor(self._pool_rows, self.compute_dtype)
        cols = ops.convert_to_tensor(self._pool_cols, self.compute_dtype)
        return ops.einsum("ph,bhwc,qw->bpqc", rows, features, cols)

    def node_states(self, inputs):
        """Hidden states of every level, leaves (batch, S, S, units) first, root last.

        Nodes that do not exist ("pad" border regions without real cells) are 0.
        The root's state is the layer's output; the levels below show which
        regions the tree summarised, for explanations.
        """
        if not self.built:
            self.build(tuple(inputs.shape))
        units = self.units
        sums = self._leaf_grid(ops.cast(inputs, self.compute_dtype))
        hidden = cell = None
        states = []
        for level, counts in enumerate(self._counts):
            if level:
                sums = ops.sum(quadtree_children(sums), axis=3)
            divisor = ops.convert_to_tensor(np.maximum(counts, 1.0)[..., None], self.compute_dtype)
            gates = ops.matmul(sums / divisor, self.kernel) + self.bias
            x_i, x_o, x_u, x_f = _split(gates, units, 4)
            if level == 0:
                cell = ops.sigmoid(x_i) * ops.tanh(x_u)
                output = ops.sigmoid(x_o)
            else:
                child_hidden, child_cell = quadtree_children(hidden), quadtree_children(cell)
                recurrent = ops.matmul(ops.sum(child_hidden, axis=3), self.recurrent_kernel)
                r_i, r_o, r_u = _split(recurrent, units, 3)
                forget = ops.sigmoid(  # one gate per child: (batch, s, s, 4, units)
                    x_f[..., None, :] + ops.matmul(child_hidden, self.forget_kernel)
                )
                cell = ops.sigmoid(x_i + r_i) * ops.tanh(x_u + r_u) + ops.sum(
                    forget * child_cell, axis=3
                )
                output = ops.sigmoid(x_o + r_o)
            hidden = output * ops.tanh(cell)
            if not counts.all():
                exists = ops.convert_to_tensor((counts > 0)[..., None], self.compute_dtype)
                hidden, cell = hidden * exists, cell * exists
            states.append(hidden)
        return states

    def call(self, inputs):
        return self.node_states(inputs)[-1][:, 0, 0, :]

    def compute_output_shape(self, input_shape):
        self._grid_shape(input_shape)
        return (input_shape[0], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "non_power_of_two": self.non_power_of_two,
        }
