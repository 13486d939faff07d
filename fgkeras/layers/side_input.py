"""Side information at inference time: a vector known beside the photo.

Users often know something about an image besides its pixels: some of the
bird's attributes seen by an annotator, the location or the date of the
photo, the product line on the inspection belt. `SideVector` turns such a
vector into safe network inputs (missing entries are NaN), and
`FeatureModulation` lets it steer the image features (FiLM: Perez et al.,
"FiLM: Visual Reasoning with a General Conditioning Layer", AAAI 2018,
https://arxiv.org/abs/1709.07871)::

    s      = [v ⊙ m, m]                      m = 1 where the entry is known
    γ, β   = W_γ s' + b_γ,  W_β s' + b_β      s' = the encoded side vector
    F'_c   = F_c ⊙ (1 + γ_c) + β_c           per channel c of the feature map F

``γ`` and ``β`` start at zero, so a new model starts as the plain image
network and learns how much to trust the side vector.
"""

from __future__ import annotations

import keras
from keras import ops

from fgkeras.checks import check_int


@keras.saving.register_keras_serializable(package="fgkeras")
class SideVector(keras.layers.Layer):
    """The chosen entries of a side vector, unknown (NaN) ones zeroed, with a known-mask.

    Args:
        columns: indices of the input entries the model reads; None reads
            all. Defaults to None.
        drop_rate: in training only, the probability that an example's whole
            side vector is treated as unknown, so the model also learns to
            classify without it. Defaults to 0.0.
        seed: seed of the training-time drop. Defaults to None.

    Input ``[batch, A]`` float, NaN where an entry is unknown; output
    ``[batch, 2K]``: the K chosen values (0 where unknown), then their known
    flags (1.0 known, 0.0 unknown).

    >>> import numpy as np
    >>> layer = SideVector(columns=[0, 2])
    >>> layer(np.array([[1.0, 5.0, np.nan]], "float32")).numpy().tolist()
    [[1.0, 0.0, 1.0, 0.0]]
    """

    def __init__(self, columns=None, drop_rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if columns is not None:
            columns = [check_int("columns", c, minimum=0) for c in columns]
            if not columns:
                raise ValueError("`columns` must name at least one entry, or be None for all.")
        if not 0.0 <= float(drop_rate) < 1.0:
            raise ValueError(f"`drop_rate` must be in [0, 1). Received: drop_rate={drop_rate!r}")
        self.columns = columns
        self.drop_rate = float(drop_rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        width = input_shape[-1]
        if self.columns is not None and width is not None and max(self.columns) >= width:
            raise ValueError(
                f"`columns` reads entry {max(self.columns)} of a side vector of {width} entries."
            )

    def call(self, inputs, training=False):
        x = ops.cast(inputs, "float32")
        if self.columns is not None:
            x = ops.take(x, self.columns, axis=-1)
        known = ops.logical_not(ops.isnan(x))
        if training and self.drop_rate > 0:
            batch = ops.shape(x)[0]
            draw = keras.random.uniform((batch, 1), seed=self.seed_generator)
            known = ops.logical_and(known, draw >= self.drop_rate)
        values = ops.where(known, x, ops.zeros_like(x))
        return ops.concatenate([values, ops.cast(known, "float32")], axis=-1)

    def compute_output_shape(self, input_shape):
        width = len(self.columns) if self.columns is not None else input_shape[-1]
        return (*input_shape[:-1], None if width is None else 2 * width)

    def get_config(self):
        return {
            **super().get_config(),
            "columns": self.columns,
            "drop_rate": self.drop_rate,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class FeatureModulation(keras.layers.Layer):
    """FiLM: scale and shift each channel of a feature map by a conditioning vector.

    ``F' = F ⊙ (1 + γ(s)) + β(s)``, with ``γ`` and ``β`` linear in ``s`` and
    initialised to zero (the layer starts as the identity).

    Input ``[feature_map [batch, H, W, C], conditioning [batch, K]]``; output
    the modulated map, ``[batch, H, W, C]``.

    >>> import numpy as np
    >>> layer = FeatureModulation()
    >>> fmap, side = np.ones((1, 2, 2, 3), "float32"), np.ones((1, 4), "float32")
    >>> bool(np.all(layer([fmap, side]).numpy() == fmap))  # identity at initialisation
    True
    """

    def build(self, input_shape):
        fmap_shape, side_shape = input_shape
        channels, width = fmap_shape[-1], side_shape[-1]
        if channels is None or width is None:
            raise ValueError(
                "FeatureModulation needs known channel and conditioning sizes. "
                f"Received: input_shape={input_shape}"
            )
        self.kernel = self.add_weight(
            shape=(width, 2 * channels), initializer="zeros", name="kernel"
        )
        self.bias = self.add_weight(shape=(2 * channels,), initializer="zeros", name="bias")

    def call(self, inputs):
        fmap, side = inputs
        film = ops.matmul(ops.cast(side, self.compute_dtype), self.kernel) + self.bias
        gamma, beta = ops.split(film, 2, axis=-1)
        return fmap * (1.0 + gamma[:, None, None, :]) + beta[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape[0]
