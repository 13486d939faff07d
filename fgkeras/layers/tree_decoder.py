"""The pieces of a coarse-to-fine decoder over a label tree (`fgkeras.models.hierarchical`).

A recurrent cell emits one tree level per step; step t reads the embedding
of level t−1's prediction:

    s_0 = tanh(W_0 x + b_0)                       initial state from the image feature x
    e_0 = W_r x + b_r                             the root's "prediction": the image itself
    s_t = cell(e_{t−1}', s_{t−1})                 GRU or LSTM, one step per level
    z_t = V_t h_t + c_t                           level t's logits (h_t: s_t's hidden part)
    e_t' = E_t[argmax z_t] (inference), softmax(z_t) E_t (training), E_t[y_t] (teacher)

- `DecoderStep`: one step of a Keras ``GRUCell`` or ``LSTMCell`` whose
  state is a single tensor (batch, states, units), so a functional model
  wires it like any layer (LSTM: [h, c]).
- `PredictionEmbedding`: E_t, a learned vector per node of a level, looked
  up by the level's prediction.
- `ChildMask`: tree-consistent decoding; level t's logits restricted to the
  children of level t−1's predicted node.
"""

import keras
import numpy as np
from keras import ops

from fgkeras.checks import check_int

CELLS = ("gru", "lstm")
# Subtracted from the logits of masked nodes: their softmax probability
# underflows to 0 in float32 while their order among themselves is kept.
MASK_OFFSET = 1e4


def argmax(logits):
    """Index (int32) of the largest of the last axis; ties go to the lowest index.

    ``ops.top_k(x, 1)``: on TensorFlow ``ops.argmax`` adds bitwise ops (to
    order −0.0 before 0.0) that TFLite cannot convert.

    >>> np.asarray(argmax(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], "float32"))).tolist()
    [1, 0]
    """
    return ops.cast(ops.top_k(logits, 1)[1][..., 0], "int32")


@keras.saving.register_keras_serializable(package="fgkeras")
class DecoderStep(keras.layers.Layer):
    """One step of a GRU or LSTM cell whose state is one (batch, states, units) tensor.

    Called on ``[inputs, state]`` with inputs (batch, d) and state
    (batch, S, units), S = 1 for "gru" (h) and 2 for "lstm" (h, c); returns
    the new state, same shape. The hidden output h_t is ``state[:, 0]``. The
    cell is Keras' own (``keras.layers.GRUCell`` with ``reset_after=True``,
    ``keras.layers.LSTMCell``), so its weights and equations are those of
    ``keras.layers.GRU`` / ``LSTM``.

    Args:
        units: size of the hidden state.
        cell: "gru" or "lstm". Defaults to "gru".

    >>> step = DecoderStep(4, cell="lstm")
    >>> tuple(step([np.ones((2, 3), "float32"), np.zeros((2, 2, 4), "float32")]).shape)
    (2, 2, 4)
    """

    def __init__(self, units, cell="gru", **kwargs):
        super().__init__(**kwargs)
        self.units = check_int("units", units)
        if cell not in CELLS:
            raise ValueError(f"`cell` must be one of {list(CELLS)}. Received: cell={cell!r}")
        self.cell = cell
        self.num_states = 1 if cell == "gru" else 2
        cell_class = keras.layers.GRUCell if cell == "gru" else keras.layers.LSTMCell
        self.recurrent_cell = cell_class(units, name=cell)

    def _check(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape, list | tuple) else []
        if len(shapes) != 2 or len(shapes[0]) != 2 or shapes[0][-1] is None:
            raise ValueError(
                "DecoderStep is called on [inputs (batch, d), state (batch, states, units)]. "
                f"Received: input_shape={input_shape}"
            )
        expected = (self.num_states, self.units)
        if tuple(shapes[1][1:]) != expected:
            raise ValueError(
                f"A {self.cell} state of {self.units} units has shape (batch, *{expected}). "
                f"Received: state shape {tuple(shapes[1])}"
            )
        return shapes

    def build(self, input_shape):
        shapes = self._check(input_shape)
        self.recurrent_cell.build(tuple(shapes[0]))

    def call(self, inputs, training=None):
        features, state = inputs
        states = [state[:, k] for k in range(self.num_states)]
        _, new_states = self.recurrent_cell(features, states, training=training)
        return ops.stack(list(new_states), axis=1)

    def compute_output_shape(self, input_shape):
        return tuple(self._check(input_shape)[1])

    def get_config(self):
        return {**super().get_config(), "units": self.units, "cell": self.cell}


@keras.saving.register_keras_serializable(package="fgkeras")
class PredictionEmbedding(keras.layers.Layer):
    """A learned vector per node of one level, looked up by that level's prediction.

    Called on the level's logits (batch, num_nodes): at inference the
    embedding of the arg-max node, E[argmax z]; in training the expected
    embedding under the softmax, softmax(z) E, so gradients reach the
    level's logits. `lookup` embeds given node indices (teacher forcing).

    Args:
        num_nodes: number of nodes of the level.
        output_dim: size of each embedding.

    >>> layer = PredictionEmbedding(3, 2)
    >>> logits = np.array([[0.0, 5.0, 1.0]], "float32")
    >>> bool(np.allclose(layer(logits), layer.lookup(np.array([1]))))
    True
    """

    def __init__(self, num_nodes, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_nodes = check_int("num_nodes", num_nodes)
        self.output_dim = check_int("output_dim", output_dim)

    def build(self, input_shape):
        if input_shape[-1] != self.num_nodes:
            raise ValueError(
                f"PredictionEmbedding of {self.num_nodes} nodes needs logits (batch, "
                f"{self.num_nodes}). Received: input_shape={input_shape}"
            )
        self.embeddings = self.add_weight(
            shape=(self.num_nodes, self.output_dim), initializer="glorot_uniform", name="embeddings"
        )

    def call(self, inputs, training=None):
        if training:
            weights = ops.softmax(ops.cast(inputs, self.compute_dtype), axis=-1)
        else:
            weights = ops.one_hot(argmax(inputs), self.num_nodes, dtype=self.compute_dtype)
        return ops.matmul(weights, self.embeddings)

    def lookup(self, indices):
        """Embeddings (batch, output_dim) of node ``indices`` (batch,)."""
        # A one-hot product, not a gather: its gradient is a dense tensor
        # (a gather's is IndexedSlices, which gradient sums cannot add).
        one_hot = ops.one_hot(ops.cast(indices, "int32"), self.num_nodes, dtype=self.compute_dtype)
        return ops.matmul(one_hot, self.embeddings)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "num_nodes": self.num_nodes, "output_dim": self.output_dim}


@keras.saving.register_keras_serializable(package="fgkeras")
class ChildMask(keras.layers.Layer):
    """Tree-consistent decoding: a level's logits restricted to its predicted parent's children.

    Called on ``[parent_logits (batch, P), child_logits (batch, C)]``:
    with ``active=True`` every child node whose parent is not
    argmax(parent_logits) gets ``MASK_OFFSET`` (10⁴) subtracted from its
    logit, so its probability is 0 and its arg-max can only be a child of
    the predicted parent (top-k lists the children first, then the rest in
    their order). With ``active=False`` the child logits pass unchanged
    (greedy decoding); the switch has no weights, so one trained model
    decodes either way.

    Args:
        parents: parent index (in 0..P−1) of each of the C child nodes; −1
            for a node with no parent (always masked when active).
        active: mask (True) or pass through (False). Defaults to True.

    >>> mask = ChildMask([0, 0, 1])
    >>> out = mask([np.array([[0.0, 2.0]], "float32"), np.array([[3.0, 1.0, 2.0]], "float32")])
    >>> int(np.argmax(out))
    2
    """

    def __init__(self, parents, active=True, **kwargs):
        super().__init__(**kwargs)
        parents = [int(p) for p in parents]
        if not parents or min(parents) < -1:
            raise ValueError(
                "`parents` must list one parent index (>= 0, or -1 for none) per child node. "
                f"Received: parents={parents[:20]}"
            )
        self.parents = parents
        self.active = bool(active)

    def _check(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape, list | tuple) else []
        if len(shapes) != 2 or shapes[1][-1] != len(self.parents):
            raise ValueError(
                f"ChildMask is called on [parent_logits, child_logits (batch, "
                f"{len(self.parents)})]. Received: input_shape={input_shape}"
            )
        if shapes[0][-1] is not None and max(self.parents) >= shapes[0][-1]:
            raise ValueError(
                f"`parents` names parent {max(self.parents)} but the parent level has "
                f"{shapes[0][-1]} nodes. Received: input_shape={input_shape}"
            )
        return shapes

    def build(self, input_shape):
        self._check(input_shape)

    def call(self, inputs):
        parent_logits, child_logits = inputs
        if not self.active:
            return child_logits
        parent = argmax(parent_logits)
        table = ops.convert_to_tensor(np.asarray(self.parents, "int32"))
        allowed = ops.equal(table[None, :], parent[:, None])
        offset = ops.cast(ops.logical_not(allowed), child_logits.dtype) * MASK_OFFSET
        return child_logits - offset

    def compute_output_shape(self, input_shape):
        return tuple(self._check(input_shape)[1])

    def get_config(self):
        return {**super().get_config(), "parents": list(self.parents), "active": self.active}
