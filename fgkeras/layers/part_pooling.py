"""Part features from attention maps: WS-DAN's BAP and MA-CNN's channel grouping.

- `BilinearAttentionPooling` (BAP): with features F (h×w×C) and M attention
  maps A_k, part k's descriptor is f_k = mean_l(A_kl · F_l); the M×C matrix
  is signed-square-rooted and L2-normalized. Hu et al., "See Better Before
  Looking Closer" (WS-DAN), 2019 (https://arxiv.org/abs/1901.09891).
- `ChannelGroupingAttention`: MA-CNN's part maps. Each part i has two fully
  connected layers that turn the pooled feature vector into channel weights
  d_i ∈ (0, 1)^C; the part map is sigmoid of the d_i-weighted channel sum.
  Zheng, Fu, Mei and Luo, "Learning Multi-Attention Convolutional Neural
  Network for Fine-Grained Image Recognition", ICCV 2017
  (https://openaccess.thecvf.com/content_iccv_2017/html/Zheng_Learning_Multi-Attention_Convolutional_ICCV_2017_paper.html).
"""

import keras
from keras import ops

from fgkeras.checks import check_int
from fgkeras.layers.attention import _check_feature_map, attention_pool
from fgkeras.layers.bilinear import signed_sqrt_l2

FEATURE_GRADIENTS = ("attention", "uniform")


@keras.saving.register_keras_serializable(package="fgkeras")
class BilinearAttentionPooling(keras.layers.Layer):
    """WS-DAN bilinear attention pooling of features by M attention maps.

    Called on ``[features (b, h, w, C), attention (b, h, w, M)]``; returns
    (b, M·C): row k is mean over locations of A_k · F, then (if
    ``normalize``) sign(x)·sqrt(|x| + ε) and L2 normalization of the whole
    vector, as in the authors' code. https://arxiv.org/abs/1901.09891

    Args:
        normalize: apply the signed square root and L2 normalization.
            Defaults to True.
        epsilon: ε under the square root and the norm. Defaults to 1e-12.
        reduction: "mean" or "sum" over locations; "sum" with softmax-
            normalized maps is soft attention pooling. Defaults to "mean".
        feature_gradient: "attention" (ordinary back-propagation) or
            "uniform": the output is unchanged, but in training
            (``training=True``) the features receive the gradient they would
            get if each map were spread evenly over the locations (its mean
            value everywhere; for softmax maps, global average pooling),
            while the maps keep their own gradient. At inference the
            gradients are the true ones, so gradient explanations (Grad-CAM)
            explain the model as it computes. The backbone then learns
            features that carry the class evidence at every location, as
            under global pooling, and the maps learn to pick the locations
            where it is strongest, instead of the backbone routing everything
            through one attended location that sees the whole object
            (docs/attention.md, "Where soft attention looks"). Defaults to
            "attention".

    >>> import numpy as np
    >>> features, maps = np.ones((2, 3, 3, 4), "float32"), np.ones((2, 3, 3, 5), "float32")
    >>> tuple(BilinearAttentionPooling()([features, maps]).shape)
    (2, 20)
    """

    def __init__(
        self,
        normalize=True,
        epsilon=1e-12,
        reduction="mean",
        feature_gradient="attention",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if reduction not in ("mean", "sum"):
            raise ValueError(f"`reduction` must be 'mean' or 'sum'. Received: {reduction!r}")
        if feature_gradient not in FEATURE_GRADIENTS:
            raise ValueError(
                f"`feature_gradient` must be one of {list(FEATURE_GRADIENTS)}. "
                f"Received: feature_gradient={feature_gradient!r}"
            )
        self.reduction = reduction
        self.feature_gradient = feature_gradient
        self.normalize = bool(normalize)
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be positive. Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)

    def _shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "BilinearAttentionPooling is called on [features, attention_maps]. "
                f"Received: input_shape={input_shape}"
            )
        features, maps = input_shape
        channels = _check_feature_map(features, "BilinearAttentionPooling")
        num_maps = _check_feature_map(maps, "BilinearAttentionPooling")
        pairs = zip(features[1:3], maps[1:3])
        if any(a is not None and b is not None and a != b for a, b in pairs):
            raise ValueError(
                "Features and attention maps must have the same height and width. "
                f"Received: input_shape={input_shape}"
            )
        return features[0], channels, num_maps

    def build(self, input_shape):
        self._shapes(input_shape)

    def call(self, inputs, training=None):
        features, maps = (ops.cast(x, self.compute_dtype) for x in inputs)
        locations = ops.cast(ops.shape(features)[1] * ops.shape(features)[2], features.dtype)
        if self.feature_gradient == "uniform" and training:
            # Forward: attention pooling. Backward: maps as usual; features as
            # if pooled by each map's mean (spread = its value; the two cancel).
            mean_maps = ops.mean(maps, axis=(1, 2), keepdims=True)
            spread = ops.stop_gradient(ops.broadcast_to(mean_maps, ops.shape(maps)))
            surrogate = attention_pool(spread, features)
            parts = attention_pool(maps, ops.stop_gradient(features))
            parts = parts + (surrogate - ops.stop_gradient(surrogate))
        else:
            parts = attention_pool(maps, features)
        if self.reduction == "mean":
            parts = parts / locations
        if not self.normalize:
            return parts
        return signed_sqrt_l2(parts, self.epsilon)

    def compute_output_shape(self, input_shape):
        batch, channels, num_maps = self._shapes(input_shape)
        return (batch, num_maps * channels)

    def get_config(self):
        return {
            **super().get_config(),
            "normalize": self.normalize,
            "epsilon": self.epsilon,
            "reduction": self.reduction,
            "feature_gradient": self.feature_gradient,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class ChannelGroupingAttention(keras.layers.Layer):
    """MA-CNN channel grouping: one attention map per part from weighted channels.

    For part i: d_i = sigmoid(W2_i tanh(W1_i mean_l(F_l) + b1_i) + b2_i) (channel
    weights), m_i(l) = Σ_c d_ic F_lc / Σ_c d_ic, and M_i = sigmoid of m_i
    standardized over the locations of each image. (The paper applies the
    sigmoid to the raw weighted sum; standardizing first keeps the maps from
    saturating whatever the backbone's activation scale.) Output: (b, h, w, P).
    https://openaccess.thecvf.com/content_iccv_2017/html/Zheng_Learning_Multi-Attention_Convolutional_ICCV_2017_paper.html

    Args:
        num_parts: number of part maps P. Defaults to 4.
        hidden_units: width of each part's first FC layer. Defaults to 64.

    >>> import numpy as np
    >>> layer = ChannelGroupingAttention(num_parts=2, hidden_units=8)
    >>> tuple(layer(np.ones((1, 3, 3, 6), "float32")).shape)
    (1, 3, 3, 2)
    """

    def __init__(self, num_parts=4, hidden_units=64, **kwargs):
        super().__init__(**kwargs)
        self.num_parts = check_int("num_parts", num_parts)
        self.hidden_units = check_int("hidden_units", hidden_units)

    def build(self, input_shape):
        channels = _check_feature_map(input_shape, "ChannelGroupingAttention")
        parts, hidden = self.num_parts, self.hidden_units
        self.kernel_1 = self.add_weight(shape=(parts, channels, hidden), name="kernel_1")
        self.bias_1 = self.add_weight(shape=(parts, hidden), initializer="zeros", name="bias_1")
        self.kernel_2 = self.add_weight(shape=(parts, hidden, channels), name="kernel_2")
        self.bias_2 = self.add_weight(shape=(parts, channels), initializer="zeros", name="bias_2")

    def channel_weights(self, features):
        """The (batch, parts, channels) channel weights d_i of each part."""
        pooled = ops.mean(ops.cast(features, self.compute_dtype), axis=(1, 2))
        hidden = ops.tanh(ops.einsum("bc,pch->bph", pooled, self.kernel_1) + self.bias_1)
        return ops.sigmoid(ops.einsum("bph,phc->bpc", hidden, self.kernel_2) + self.bias_2)

    def call(self, inputs):
        features = ops.cast(inputs, self.compute_dtype)
        weights = self.channel_weights(features)
        grouped = ops.einsum("bhwc,bpc->bhwp", features, weights)
        grouped = grouped / ops.sum(weights, axis=-1)[:, None, None, :]
        mean = ops.mean(grouped, axis=(1, 2), keepdims=True)
        std = ops.sqrt(ops.var(grouped, axis=(1, 2), keepdims=True) + 1e-6)
        return ops.sigmoid((grouped - mean) / std)

    def compute_output_shape(self, input_shape):
        _check_feature_map(input_shape, "ChannelGroupingAttention")
        return (*input_shape[:3], self.num_parts)

    def get_config(self):
        return {
            **super().get_config(),
            "num_parts": self.num_parts,
            "hidden_units": self.hidden_units,
        }
