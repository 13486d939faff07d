"""Bilinear pooling and its normalization (Lin et al., B-CNN, ICCV 2015).

Bilinear pooling turns two feature maps A (H×W×M) and B (H×W×N) into the
M×N matrix of their location-averaged outer products,

    z = vec( (1/HW) · Σ_l a_l b_lᵀ ),

an orderless descriptor that captures pairwise feature interactions, which is
what separates fine-grained classes. The signed square root and L2
normalization that follow are part of the B-CNN recipe.
https://arxiv.org/abs/1504.07889
"""

import keras
from keras import ops


def flatten_locations(x):
    """Reshape a (batch, height, width, channels) map to (batch, locations, channels)."""
    return ops.reshape(x, (ops.shape(x)[0], -1, ops.shape(x)[-1]))


def split_streams(inputs):
    """Return (a, b) for a list of two feature maps, or (x, x) for one."""
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != 2:
            raise ValueError(
                f"Expected one feature map or a list of two. Received: {len(inputs)} inputs"
            )
        return inputs[0], inputs[1]
    return inputs, inputs


def check_stream_shapes(input_shape):
    """Validate (one or two) 4D feature-map shapes; return (shape_a, shape_b)."""
    is_pair = isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple))
    shape_a, shape_b = (input_shape[0], input_shape[1]) if is_pair else (input_shape, input_shape)
    for shape in (shape_a, shape_b):
        if len(shape) != 4:
            raise ValueError(
                f"Expected feature maps of rank 4 (batch, height, width, channels). "
                f"Received: input_shape={input_shape}"
            )
    same_grid = all(a is None or b is None or a == b for a, b in zip(shape_a[1:3], shape_b[1:3]))
    if not same_grid:
        raise ValueError(
            "The two feature maps must have the same height and width. "
            f"Received: input_shape={input_shape}"
        )
    return tuple(shape_a), tuple(shape_b)


@keras.saving.register_keras_serializable(package="fgkeras")
class BilinearPooling(keras.layers.Layer):
    """Average outer product of one (symmetric) or two (two-stream) feature maps.

    Call it on one map ``x`` for the symmetric form (A = B) or on a list
    ``[a, b]`` of maps with the same height and width for two streams.
    Output: (batch, channels_a * channels_b).

    >>> import numpy as np
    >>> x = np.ones((2, 3, 3, 4), "float32")
    >>> tuple(BilinearPooling()(x).shape)
    (2, 16)
    """

    def build(self, input_shape):
        check_stream_shapes(input_shape)

    def call(self, inputs):
        a, b = split_streams(inputs)
        a = flatten_locations(ops.cast(a, self.compute_dtype))
        b = flatten_locations(ops.cast(b, self.compute_dtype))
        locations = ops.cast(ops.shape(a)[1], a.dtype)
        outer = ops.matmul(ops.transpose(a, (0, 2, 1)), b) / locations
        return ops.reshape(outer, (ops.shape(outer)[0], -1))

    def compute_output_shape(self, input_shape):
        shape_a, shape_b = check_stream_shapes(input_shape)
        return (shape_a[0], shape_a[-1] * shape_b[-1])


def signed_sqrt_l2(x, epsilon=1e-8):
    """sign(x)·sqrt(|x| + epsilon), then each row divided by its L2 norm.

    The normalization of bilinear features (Lin et al. 2015), shared by
    `SignedSqrtL2Normalization` and WS-DAN's bilinear attention pooling.

    >>> import numpy as np
    >>> np.asarray(signed_sqrt_l2(np.array([[4.0, -9.0]], "float32")), "float64").round(4).tolist()
    [[0.5547, -0.8321]]
    """
    x = ops.sign(x) * ops.sqrt(ops.abs(x) + epsilon)
    norm_sq = ops.sum(ops.square(x), axis=-1, keepdims=True)
    return x * ops.rsqrt(ops.maximum(norm_sq, epsilon))


@keras.saving.register_keras_serializable(package="fgkeras")
class SignedSqrtL2Normalization(keras.layers.Layer):
    """Element-wise signed square root, then L2 normalization of each row.

    y = sign(x)·sqrt(|x| + epsilon), then y / ||y||₂. The epsilon keeps the
    square root's gradient finite at zero.

    Args:
        epsilon: added under the square root and the norm. Defaults to 1e-8.

    >>> import numpy as np
    >>> out = SignedSqrtL2Normalization()(np.array([[4.0, -9.0]], "float32"))
    >>> np.asarray(out, "float64").round(4).tolist()
    [[0.5547, -0.8321]]
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be positive. Received: epsilon={epsilon}")
        self.epsilon = epsilon

    def call(self, inputs):
        return signed_sqrt_l2(ops.cast(inputs, self.compute_dtype), self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
