"""Matrix-normalized covariance pooling: iSQRT-COV (Li et al., CVPR 2018).

Second-order pooling computes the channel covariance Σ of a feature map and
normalizes it by its matrix square root Σ^½, which the paper shows is the
right normalization for fine-grained recognition. Eigendecomposition is slow
on GPUs and unstable to backpropagate, so iSQRT-COV uses coupled Newton–Schulz
iterations, which are only matrix products:

    A = Σ / tr(Σ)                     (pre-normalization, so the iteration converges)
    Y₀ = A, Z₀ = I
    Tₖ = ½ (3I − Zₖ₋₁ Yₖ₋₁),  Yₖ = Yₖ₋₁ Tₖ,  Zₖ = Tₖ Zₖ₋₁
    C = √tr(Σ) · Y_N                  (post-compensation)

Yₖ → A^½ and Zₖ → A^-½. The symmetric C is returned as its upper triangle.
https://arxiv.org/abs/1712.01034
"""

import keras
import numpy as np
from keras import ops

from fgkeras.checks import check_int
from fgkeras.layers.bilinear import flatten_locations


@keras.saving.register_keras_serializable(package="fgkeras")
class ISqrtCovPooling(keras.layers.Layer):
    """Covariance pooling normalized by its Newton–Schulz matrix square root.

    Input (batch, height, width, C); output (batch, C·(C+1)/2), the upper
    triangle of the normalized covariance (or (batch, C·C) with
    ``upper_triangle=False``).

    Args:
        iterations: Newton–Schulz iterations N (the paper uses 3 to 5).
            Defaults to 5.
        upper_triangle: return only the upper triangle of the symmetric
            result. Defaults to True.
        epsilon: added to the trace to guard against empty activations.
            Defaults to 1e-5.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 5, 4)).astype("float32")
    >>> tuple(ISqrtCovPooling()(x).shape)
    (2, 10)
    """

    def __init__(self, iterations=5, upper_triangle=True, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        check_int("iterations", iterations)
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be positive. Received: epsilon={epsilon}")
        self.iterations = iterations
        self.upper_triangle = upper_triangle
        self.epsilon = epsilon

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "Expected a feature map (batch, height, width, channels) with known "
                f"channels. Received: input_shape={input_shape}"
            )
        channels = input_shape[-1]
        rows, cols = np.triu_indices(channels)
        self._triu_flat_index = (rows * channels + cols).astype("int32")

    def call(self, inputs):
        # Matrix iterations need float32 precision even under mixed precision.
        x = flatten_locations(ops.cast(inputs, "float32"))
        locations = ops.cast(ops.shape(x)[1], "float32")
        centered = x - ops.mean(x, axis=1, keepdims=True)
        covariance = ops.matmul(ops.transpose(centered, (0, 2, 1)), centered) / locations
        trace = ops.sum(ops.square(centered), axis=(1, 2)) / locations + self.epsilon
        trace = ops.reshape(trace, (-1, 1, 1))
        channels = ops.shape(covariance)[-1]
        identity = ops.eye(channels, dtype="float32")
        y = covariance / trace
        z = ops.broadcast_to(identity, ops.shape(y))
        for _ in range(self.iterations):
            t = 0.5 * (3.0 * identity - ops.matmul(z, y))
            y, z = ops.matmul(y, t), ops.matmul(t, z)
        root = ops.sqrt(trace) * y
        flat = ops.reshape(root, (ops.shape(root)[0], -1))
        if self.upper_triangle:
            flat = ops.take(flat, self._triu_flat_index, axis=1)
        return ops.cast(flat, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        dim = channels * (channels + 1) // 2 if self.upper_triangle else channels * channels
        return (input_shape[0], dim)

    def get_config(self):
        return {
            **super().get_config(),
            "iterations": self.iterations,
            "upper_triangle": self.upper_triangle,
            "epsilon": self.epsilon,
        }
