"""Compact bilinear pooling (Gao et al., CVPR 2016).

Full bilinear features of a 512-channel map have 262,144 dimensions. Compact
bilinear pooling replaces the outer product by a d-dimensional random
projection whose inner products approximate those of the full features
(⟨ψ(x), ψ(y)⟩ ≈ ⟨x, y⟩²), with d = 8192 nearly lossless in the paper.

Two projections:

- Tensor Sketch: count-sketch each input with random hashes h and signs s,
  then convolve the two sketches circularly, which is an element-wise product
  in the Fourier domain: ψ(x) = IFFT(FFT(C₁x) ∘ FFT(C₂x)). Cheap, but FFT ops
  do not convert to TFLite.
- Random Maclaurin: ψ(x) = (W₁ᵀx) ∘ (W₂ᵀx) / √d with random ±1 matrices.
  Dense matrix products only, so it converts everywhere.

Both are averaged over spatial locations. https://arxiv.org/abs/1511.06062
"""

import keras
import numpy as np
from keras import ops

from fgkeras.checks import check_int
from fgkeras.layers.bilinear import check_stream_shapes, flatten_locations, split_streams

PROJECTIONS = ("tensor_sketch", "random_maclaurin")


def count_sketch_matrix(input_dim, output_dim, rng):
    """Dense (input_dim, output_dim) matrix of a count sketch: one ±1 per row."""
    matrix = np.zeros((input_dim, output_dim), "float32")
    matrix[np.arange(input_dim), rng.integers(0, output_dim, input_dim)] = rng.choice(
        [-1.0, 1.0], input_dim
    )
    return matrix


def rademacher_matrix(input_dim, output_dim, rng):
    """Dense (input_dim, output_dim) matrix of independent ±1 entries."""
    return rng.choice([-1.0, 1.0], (input_dim, output_dim)).astype("float32")


@keras.saving.register_keras_serializable(package="fgkeras")
class CompactBilinearPooling(keras.layers.Layer):
    """Compact bilinear pooling by Tensor Sketch or Random Maclaurin projection.

    Call on one feature map (symmetric) or a list of two with the same grid.

    Args:
        output_dim: dimension d of the pooled feature. Defaults to 8192.
        projection: "tensor_sketch" (FFT) or "random_maclaurin" (no FFT, so
            the layer converts to TFLite). Defaults to "tensor_sketch".
        seed: seed of the fixed random projections. Defaults to 0.

    >>> import numpy as np
    >>> layer = CompactBilinearPooling(output_dim=64, projection="random_maclaurin")
    >>> tuple(layer(np.ones((2, 4, 4, 8), "float32")).shape)
    (2, 64)
    """

    def __init__(self, output_dim=8192, projection="tensor_sketch", seed=0, **kwargs):
        super().__init__(**kwargs)
        check_int("output_dim", output_dim)
        if projection not in PROJECTIONS:
            raise ValueError(
                f"`projection` must be one of {PROJECTIONS}. Received: projection={projection!r}"
            )
        self.output_dim = output_dim
        self.projection = projection
        self.seed = seed

    def build(self, input_shape):
        shape_a, shape_b = check_stream_shapes(input_shape)
        rng = np.random.default_rng(self.seed)
        make = count_sketch_matrix if self.projection == "tensor_sketch" else rademacher_matrix
        values = [make(shape[-1], self.output_dim, rng) for shape in (shape_a, shape_b)]
        # Fixed projections are stored as non-trainable weights so a saved
        # model carries them explicitly rather than relying on RNG replay.
        self.projection_a, self.projection_b = (
            self.add_weight(
                name=f"projection_{stream}",
                shape=value.shape,
                initializer=keras.initializers.Constant(value),
                trainable=False,
            )
            for stream, value in zip("ab", values)
        )

    def call(self, inputs):
        a, b = split_streams(inputs)
        # FFTs and the ±1 projections run in float32 even under mixed precision.
        a = flatten_locations(ops.cast(a, "float32"))
        b = flatten_locations(ops.cast(b, "float32"))
        sketch_a = ops.matmul(a, ops.cast(self.projection_a, "float32"))
        sketch_b = ops.matmul(b, ops.cast(self.projection_b, "float32"))
        if self.projection == "random_maclaurin":
            pooled = ops.mean(sketch_a * sketch_b, axis=1) / np.sqrt(self.output_dim)
        else:
            real_a, imag_a = ops.rfft(sketch_a)
            real_b, imag_b = ops.rfft(sketch_b)
            # Average the Fourier-domain products over locations first: the
            # inverse FFT is linear, so one inverse transform per image suffices.
            real = ops.mean(real_a * real_b - imag_a * imag_b, axis=1)
            imag = ops.mean(real_a * imag_b + imag_a * real_b, axis=1)
            pooled = ops.irfft((real, imag), fft_length=self.output_dim)
        return ops.cast(pooled, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        shape_a, _ = check_stream_shapes(input_shape)
        return (shape_a[0], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "projection": self.projection,
            "seed": self.seed,
        }
