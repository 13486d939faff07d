"""Soft attention: spatial attention pooling and channel/spatial gating blocks.

Soft attention (§4.2 of the survey) weighs every location by a score
normalized with a softmax over the map, so it is differentiable and trains
with the classification loss alone. Three layers:

- `SpatialSoftmax` and `ClassActivationMap`: attention maps, from learned
  scores or from a classifier's class maps (CAM).
- `SoftAttentionPooling`: z_k = Σ_l a_kl f_l with a_k = softmax_l(s_k(f_l)),
  one descriptor per attention head (Xu et al., "Show, Attend and Tell",
  ICML 2015, https://arxiv.org/abs/1502.03044; additive scoring as in
  Bahdanau et al.).
- `SqueezeExcitation`: channel gating by a bottleneck MLP on the pooled
  map (Hu et al., CVPR 2018, https://arxiv.org/abs/1709.01507).
- `CBAM`: channel gating from average- and max-pooled descriptors, then a
  spatial gate from a k×k convolution (Woo et al., ECCV 2018,
  https://arxiv.org/abs/1807.06521).
"""

import keras
from keras import ops

from fgkeras.checks import check_int


def attention_pool(maps, features):
    """Σ_l a_kl f_l for every map k, flattened to (batch, maps·channels).

    The one weighted sum of soft attention pooling, shared by
    `SoftAttentionPooling` and WS-DAN's `BilinearAttentionPooling` (whose
    models also build soft attention from it).

    >>> import numpy as np
    >>> maps = np.full((1, 2, 2, 1), 0.25, "float32")
    >>> features = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)
    >>> np.asarray(attention_pool(maps, features)).tolist()
    [[3.0, 4.0]]
    """
    pooled = ops.einsum("bhwk,bhwc->bkc", maps, features)
    return ops.reshape(pooled, (ops.shape(pooled)[0], -1))


def _check_feature_map(input_shape, layer_name):
    if len(input_shape) != 4 or input_shape[-1] is None:
        raise ValueError(
            f"{layer_name} expects a feature map (batch, height, width, channels) with a "
            f"known channel count. Received: input_shape={input_shape}"
        )
    return int(input_shape[-1])


def spatial_softmax(scores):
    """Softmax over the height and width axes of a (batch, h, w, k) map.

    >>> import numpy as np
    >>> a = spatial_softmax(np.zeros((1, 2, 2, 1), "float32"))
    >>> np.asarray(a)[0, :, :, 0].tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    """
    shape = ops.shape(scores)
    flat = ops.reshape(scores, (shape[0], -1, shape[-1]))
    return ops.reshape(ops.softmax(flat, axis=1), shape)


@keras.saving.register_keras_serializable(package="fgkeras")
class SpatialSoftmax(keras.layers.Layer):
    """Normalize each score map of (batch, h, w, k) by a softmax over locations.

    The attention maps of soft attention (Xu et al.,
    https://arxiv.org/abs/1502.03044); each map sums to 1.

    >>> import numpy as np
    >>> maps = SpatialSoftmax()(np.zeros((1, 2, 2, 3), "float32"))
    >>> np.asarray(maps).sum(axis=(1, 2)).tolist()
    [[1.0, 1.0, 1.0]]
    """

    def call(self, inputs):
        return spatial_softmax(ops.cast(inputs, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="fgkeras")
class ClassActivationMap(keras.layers.Layer):
    """The class activation map of the top-scoring class, ReLU'd, max-normalized.

    Called on class score maps (batch, h, w, num_classes) whose spatial mean
    is the logits (a 1×1 convolution classifier, then global average
    pooling); returns (batch, h, w, 1), the map of the class with the
    highest mean score, in [0, 1]. Zhou et al., "Learning Deep Features for
    Discriminative Localization", CVPR 2016 (https://arxiv.org/abs/1512.04150).

    >>> import numpy as np
    >>> scores = np.zeros((1, 2, 2, 2), "float32"); scores[0, 0, 1, 1] = 4.0
    >>> np.asarray(ClassActivationMap()(scores))[0, :, :, 0].tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """

    def call(self, inputs):
        scores = ops.cast(inputs, self.compute_dtype)
        top = ops.argmax(ops.mean(scores, axis=(1, 2)), axis=-1)
        selector = ops.one_hot(top, ops.shape(scores)[-1], dtype=scores.dtype)
        cam = ops.relu(ops.einsum("bhwk,bk->bhw", scores, selector))[..., None]
        return cam / ops.maximum(ops.max(cam, axis=(1, 2), keepdims=True), 1e-12)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], 1)


@keras.saving.register_keras_serializable(package="fgkeras")
class SoftAttentionPooling(keras.layers.Layer):
    """Attention-weighted average of a feature map, one descriptor per head.

    Scores s_k(f) = v_kᵀ tanh(W f + b) (or v_kᵀ f without a hidden layer) are
    normalized by a softmax over all locations; head k returns
    Σ_l a_kl f_l. Output: (batch, num_heads * channels), and with
    ``return_attention=True`` also the maps (batch, height, width, num_heads).
    Xu et al., "Show, Attend and Tell", https://arxiv.org/abs/1502.03044.

    Args:
        num_heads: number of attention maps. Defaults to 1.
        hidden_units: width of the additive scoring layer; None scores
            linearly. Defaults to None.
        return_attention: also return the attention maps. Defaults to False.

    >>> import numpy as np
    >>> tuple(SoftAttentionPooling(num_heads=2)(np.ones((2, 3, 3, 4), "float32")).shape)
    (2, 8)
    """

    def __init__(self, num_heads=1, hidden_units=None, return_attention=False, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads)
        if hidden_units is not None:
            check_int("hidden_units", hidden_units)
        self.hidden_units = hidden_units
        self.return_attention = bool(return_attention)

    def build(self, input_shape):
        channels = _check_feature_map(input_shape, "SoftAttentionPooling")
        score_in = channels
        if self.hidden_units is not None:
            self.hidden_kernel = self.add_weight(
                shape=(channels, self.hidden_units), initializer="glorot_uniform", name="hidden"
            )
            self.hidden_bias = self.add_weight(
                shape=(self.hidden_units,), initializer="zeros", name="hidden_bias"
            )
            score_in = self.hidden_units
        self.score_kernel = self.add_weight(
            shape=(score_in, self.num_heads), initializer="glorot_uniform", name="score"
        )

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        hidden = x
        if self.hidden_units is not None:
            hidden = ops.tanh(ops.matmul(x, self.hidden_kernel) + self.hidden_bias)
        attention = spatial_softmax(ops.matmul(hidden, self.score_kernel))
        pooled = attention_pool(attention, x)
        return [pooled, attention] if self.return_attention else pooled

    def compute_output_shape(self, input_shape):
        channels = _check_feature_map(input_shape, "SoftAttentionPooling")
        pooled = (input_shape[0], self.num_heads * channels)
        if self.return_attention:
            return [pooled, (*input_shape[:3], self.num_heads)]
        return pooled

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "hidden_units": self.hidden_units,
            "return_attention": self.return_attention,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class SqueezeExcitation(keras.layers.Layer):
    """Squeeze-and-excitation: rescale channels by a gate from the pooled map.

    gate = sigmoid(W₂ relu(W₁ mean_l(f_l) + b₁) + b₂); output f · gate.
    Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018
    (https://arxiv.org/abs/1709.01507).

    Args:
        ratio: channel reduction of the bottleneck (at least 1 unit).
            Defaults to 16.

    >>> import numpy as np
    >>> tuple(SqueezeExcitation(ratio=2)(np.ones((1, 4, 4, 8), "float32")).shape)
    (1, 4, 4, 8)
    """

    def __init__(self, ratio=16, **kwargs):
        super().__init__(**kwargs)
        self.ratio = check_int("ratio", ratio)

    def build(self, input_shape):
        channels = _check_feature_map(input_shape, "SqueezeExcitation")
        units = max(1, channels // self.ratio)
        self.down = self.add_weight(shape=(channels, units), initializer="glorot_uniform")
        self.down_bias = self.add_weight(shape=(units,), initializer="zeros")
        self.up = self.add_weight(shape=(units, channels), initializer="glorot_uniform")
        self.up_bias = self.add_weight(shape=(channels,), initializer="zeros")

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        squeezed = ops.mean(x, axis=(1, 2))
        hidden = ops.relu(ops.matmul(squeezed, self.down) + self.down_bias)
        gate = ops.sigmoid(ops.matmul(hidden, self.up) + self.up_bias)
        return x * gate[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}


@keras.saving.register_keras_serializable(package="fgkeras")
class CBAM(keras.layers.Layer):
    """Convolutional block attention module: a channel gate, then a spatial gate.

    Channel gate: sigmoid(MLP(avgpool f) + MLP(maxpool f)) with a shared
    bottleneck MLP. Spatial gate: sigmoid(conv_k×k([mean_c f', max_c f'])).
    Woo, Park, Lee and Kweon, "CBAM: Convolutional Block Attention Module",
    ECCV 2018 (https://arxiv.org/abs/1807.06521).

    Args:
        ratio: channel reduction of the shared MLP. Defaults to 16.
        kernel_size: odd size of the spatial gate's convolution. Defaults to 7.
        return_attention: also return the spatial gate (batch, h, w, 1).
            Defaults to False.

    >>> import numpy as np
    >>> tuple(CBAM(ratio=2, kernel_size=3)(np.ones((1, 5, 5, 4), "float32")).shape)
    (1, 5, 5, 4)
    """

    def __init__(self, ratio=16, kernel_size=7, return_attention=False, **kwargs):
        super().__init__(**kwargs)
        self.ratio = check_int("ratio", ratio)
        if check_int("kernel_size", kernel_size) % 2 == 0:
            raise ValueError(f"`kernel_size` must be odd. Received: kernel_size={kernel_size}")
        self.kernel_size = kernel_size
        self.return_attention = bool(return_attention)

    def build(self, input_shape):
        channels = _check_feature_map(input_shape, "CBAM")
        units = max(1, channels // self.ratio)
        self.down = self.add_weight(shape=(channels, units), initializer="glorot_uniform")
        self.down_bias = self.add_weight(shape=(units,), initializer="zeros")
        self.up = self.add_weight(shape=(units, channels), initializer="glorot_uniform")
        self.up_bias = self.add_weight(shape=(channels,), initializer="zeros")
        self.spatial_kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, 2, 1), initializer="glorot_uniform"
        )
        self.spatial_bias = self.add_weight(shape=(1,), initializer="zeros")

    def _mlp(self, pooled):
        hidden = ops.relu(ops.matmul(pooled, self.down) + self.down_bias)
        return ops.matmul(hidden, self.up) + self.up_bias

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        channel_gate = ops.sigmoid(
            self._mlp(ops.mean(x, axis=(1, 2))) + self._mlp(ops.max(x, axis=(1, 2)))
        )
        x = x * channel_gate[:, None, None, :]
        described = ops.stack([ops.mean(x, axis=-1), ops.max(x, axis=-1)], axis=-1)
        spatial = ops.conv(described, self.spatial_kernel, strides=1, padding="same")
        spatial_gate = ops.sigmoid(spatial + self.spatial_bias)
        outputs = x * spatial_gate
        return [outputs, spatial_gate] if self.return_attention else outputs

    def compute_output_shape(self, input_shape):
        if self.return_attention:
            return [tuple(input_shape), (*input_shape[:3], 1)]
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "ratio": self.ratio,
            "kernel_size": self.kernel_size,
            "return_attention": self.return_attention,
        }
