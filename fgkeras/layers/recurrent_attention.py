"""Recurrent soft attention: an LSTM that takes glimpses of a feature map.

Xu et al., "Show, Attend and Tell: Neural Image Caption Generation with
Visual Attention", ICML 2015 (https://arxiv.org/abs/1502.03044), in its
classifier form. With f_l the C features of cell l of the map (L = h·w
cells) and f̄ their mean:

    h_0 = tanh(W_ih f̄ + b_ih),  c_0 = tanh(W_ic f̄ + b_ic)     (f_init_h, f_init_c)
    e_tl = vᵀ tanh(W_f f_l + W_h h_{t-1} + b)                  additive scores
    α_t  = softmax_l(e_t)                                      the step's map
    z_t  = Σ_l α_tl f_l                                        attended context
    h_t, c_t = LSTMCell(z_t, (h_{t-1}, c_{t-1}))
    r_t  = [h_t, z_t]                                          step readout

for t = 1..steps. r_t is what the paper's deep output layer reads
(L_h h_t + L_z z_t). Three layers:

- `RecurrentAttention`: the loop above; returns r_T (or every r_t) and,
  on request, the maps α (batch, h, w, steps).
- `SelectStep`: one index of one axis (one step's map or readout).
- `DoublyStochasticPenalty`: the paper's regularizer
  λ Σ_l (1 − Σ_t α_tl)², added with ``add_loss``; it returns its first input
  unchanged (like `keras.layers.ActivityRegularization`).
"""

import numbers

import keras
from keras import ops

from fgkeras.checks import check_int
from fgkeras.layers.attention import _check_feature_map


def doubly_stochastic_penalty(maps):
    """Σ over cells of (1 − Σ_t α_t)² per example: (batch,).

    Args:
        maps: a list of (batch, h, w, k) attention maps, one per step.

    >>> import numpy as np
    >>> a = np.full((1, 2, 2, 1), 0.25, "float32")
    >>> np.asarray(doubly_stochastic_penalty([a, a])).tolist()
    [1.0]
    """
    coverage = ops.cast(maps[0], "float32")
    for step_map in maps[1:]:
        coverage = coverage + ops.cast(step_map, "float32")
    return ops.sum(ops.square(1.0 - coverage), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="fgkeras")
class RecurrentAttention(keras.layers.Layer):
    """An LSTM that attends over a feature map for ``steps`` glimpses.

    Called on a feature map (batch, h, w, C); returns the last readout
    r_T = [h_T, z_T] (batch, units + C), or every r_t (batch, steps,
    units + C) with ``return_sequences``; with ``return_attention`` also the
    maps (batch, h, w, steps), each summing to 1 over the cells. Xu et al.,
    "Show, Attend and Tell", https://arxiv.org/abs/1502.03044 (equations in
    this module's docstring); the LSTM is a `keras.layers.LSTMCell`.

    Args:
        units: size of the LSTM state. Defaults to 512.
        steps: number of glimpses. Defaults to 3.
        attention_units: width of the additive scoring layer. Defaults to 256.
        return_sequences: return every step's readout, not only the last.
            Defaults to False.
        return_attention: also return the attention maps. Defaults to False.

    >>> import numpy as np
    >>> layer = RecurrentAttention(8, steps=2, attention_units=4, return_attention=True)
    >>> readout, maps = layer(np.ones((1, 3, 3, 5), "float32"))
    >>> tuple(readout.shape), tuple(maps.shape)
    ((1, 13), (1, 3, 3, 2))
    """

    def __init__(
        self,
        units=512,
        steps=3,
        attention_units=256,
        return_sequences=False,
        return_attention=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_int("units", units)
        self.steps = check_int("steps", steps)
        self.attention_units = check_int("attention_units", attention_units)
        self.return_sequences = bool(return_sequences)
        self.return_attention = bool(return_attention)

    def build(self, input_shape):
        channels = _check_feature_map(input_shape, "RecurrentAttention")

        def weight(name, shape, initializer="glorot_uniform"):
            return self.add_weight(shape=shape, initializer=initializer, name=name)

        self.init_h_kernel = weight("init_h_kernel", (channels, self.units))
        self.init_h_bias = weight("init_h_bias", (self.units,), "zeros")
        self.init_c_kernel = weight("init_c_kernel", (channels, self.units))
        self.init_c_bias = weight("init_c_bias", (self.units,), "zeros")
        self.feature_kernel = weight("feature_kernel", (channels, self.attention_units))
        self.hidden_kernel = weight("hidden_kernel", (self.units, self.attention_units))
        self.attention_bias = weight("attention_bias", (self.attention_units,), "zeros")
        self.score_kernel = weight("score_kernel", (self.attention_units, 1))
        self.cell = keras.layers.LSTMCell(self.units, dtype=self.dtype_policy, name="lstm_cell")
        self.cell.build((input_shape[0], channels))

    def call(self, inputs, training=None):
        x = ops.cast(inputs, self.compute_dtype)
        batch, height, width = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        features = ops.reshape(x, (batch, -1, x.shape[-1]))
        mean = ops.mean(features, axis=1)
        h = ops.tanh(ops.matmul(mean, self.init_h_kernel) + self.init_h_bias)
        c = ops.tanh(ops.matmul(mean, self.init_c_kernel) + self.init_c_bias)
        keys = ops.matmul(features, self.feature_kernel) + self.attention_bias
        readouts, alphas = [], []
        for _ in range(self.steps):
            query = ops.expand_dims(ops.matmul(h, self.hidden_kernel), 1)
            scores = ops.squeeze(ops.matmul(ops.tanh(keys + query), self.score_kernel), -1)
            alpha = ops.softmax(scores, axis=-1)
            context = ops.einsum("bl,blc->bc", alpha, features)
            h, (h, c) = self.cell(context, [h, c], training=training)
            readouts.append(ops.concatenate([h, context], axis=-1))
            alphas.append(alpha)
        output = ops.stack(readouts, axis=1) if self.return_sequences else readouts[-1]
        if not self.return_attention:
            return output
        maps = ops.reshape(ops.stack(alphas, axis=-1), (batch, height, width, self.steps))
        return output, maps

    def compute_output_shape(self, input_shape):
        channels = _check_feature_map(input_shape, "RecurrentAttention")
        dim = self.units + channels
        batch = input_shape[0]
        output = (batch, self.steps, dim) if self.return_sequences else (batch, dim)
        if self.return_attention:
            return output, (*input_shape[:3], self.steps)
        return output

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "steps": self.steps,
            "attention_units": self.attention_units,
            "return_sequences": self.return_sequences,
            "return_attention": self.return_attention,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class SelectStep(keras.layers.Layer):
    """Pick entry ``index`` of one ``axis``: x[..., index, ...].

    Splits a stacked tensor into named per-step outputs: e.g. step t's map
    (batch, h, w, 1) of `RecurrentAttention`'s (batch, h, w, steps), or the
    last readout of a (batch, steps, dim) sequence.

    Args:
        index: the entry; negative counts from the end. Defaults to -1.
        axis: the axis (not the batch axis 0). Defaults to 1.
        keepdims: keep ``axis`` with size 1. Defaults to False.

    >>> import numpy as np
    >>> x = np.arange(6, dtype="float32").reshape(1, 2, 3)
    >>> np.asarray(SelectStep(1, axis=-1, keepdims=True)(x)).tolist()
    [[[1.0], [4.0]]]
    """

    def __init__(self, index=-1, axis=1, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise ValueError(f"`index` must be an integer. Received: index={index!r}")
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or axis == 0:
            raise ValueError(f"`axis` must be a non-batch axis (not 0). Received: axis={axis!r}")
        self.index = int(index)
        self.axis = int(axis)
        self.keepdims = bool(keepdims)

    def _position(self, input_shape):
        rank = len(input_shape)
        axis = self.axis % rank if -rank <= self.axis < rank else None
        size = input_shape[axis] if axis else None
        if not axis or size is None or not -size <= self.index < size:
            raise ValueError(
                f"SelectStep needs a known axis {self.axis} holding entry {self.index}. "
                f"Received: input_shape={input_shape}, index={self.index}, axis={self.axis}"
            )
        return axis, self.index % size

    def build(self, input_shape):
        self._position(input_shape)

    def call(self, inputs):
        axis, index = self._position(inputs.shape)
        picked = ops.take(inputs, [index], axis=axis)
        return picked if self.keepdims else ops.squeeze(picked, axis=axis)

    def compute_output_shape(self, input_shape):
        axis, _ = self._position(input_shape)
        shape = list(input_shape)
        if self.keepdims:
            shape[axis] = 1
        else:
            del shape[axis]
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(),
            "index": self.index,
            "axis": self.axis,
            "keepdims": self.keepdims,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class DoublyStochasticPenalty(keras.layers.Layer):
    """Add λ·mean_batch Σ_l (1 − Σ_t α_tl)² to the losses; return the first input.

    Called on ``[x, maps_1, ..., maps_T]`` (each map (batch, h, w, k)); the
    "doubly stochastic attention" regularizer of Xu et al.
    (https://arxiv.org/abs/1502.03044, eq. 14), which pushes the glimpses
    to cover the cells between them instead of all staring at one. Like
    `keras.layers.ActivityRegularization`, it passes ``x`` through
    unchanged, so it sits on the path to the model's output and ``fit``
    (and the zoo's `Trainer`) collect its loss from ``model.losses``.

    Args:
        strength: λ; 0 adds no loss. Defaults to 0.0.

    >>> import numpy as np
    >>> layer = DoublyStochasticPenalty(0.5)
    >>> a = np.full((1, 2, 2, 1), 0.25, "float32")
    >>> _ = layer([np.ones((1, 3), "float32"), a, a])
    >>> [float(loss) for loss in layer.losses]
    [0.5]
    """

    def __init__(self, strength=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or strength < 0:
            raise ValueError(f"`strength` must be a number >= 0. Received: strength={strength!r}")
        self.strength = float(strength)

    def build(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape, (list, tuple)) else []
        if len(shapes) < 2 or not all(
            isinstance(s, (list, tuple)) and len(s) == 4 for s in shapes[1:]
        ):
            raise ValueError(
                "DoublyStochasticPenalty is called on [x, maps_1, ..., maps_T] with 4-D maps "
                f"(batch, h, w, k). Received: input_shape={input_shape}"
            )

    def call(self, inputs):
        if self.strength > 0:
            penalty = ops.mean(doubly_stochastic_penalty(list(inputs[1:])))
            self.add_loss(self.strength * penalty)
        return inputs[0]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "strength": self.strength}
