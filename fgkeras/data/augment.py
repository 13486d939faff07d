"""Augmentation that runs on the accelerator, inside the training model.

``build_augmenter(policy)`` returns a ``keras.Sequential`` of Keras
augmentation layers (shape-preserving, on batches of 0-255 images).
`fgkeras.training.trainer.Trainer` runs it inside the training step of every
model, so ``fit`` augments on the device while ``evaluate``/``predict``/a
plain call see clean images.

Keras augmentation layers apply themselves when called *without*
``training=False``; the Trainer only calls the augmenter when ``training``
is truly True. Export the inner model (``trainer.model``), not the wrapper:
serving graphs should hold no augmentation at all.
"""

from __future__ import annotations

import keras

POLICIES = ("none", "light", "fgvc", "strong")


def build_augmenter(policy="fgvc", seed=None):
    """A ``keras.Sequential`` of augmentation layers for a named policy.

    Policies (all keep the image shape; images are 0-255):

    - ``"none"``: identity.
    - ``"light"``: horizontal flip.
    - ``"fgvc"``: flip, small rotation (+-9 degrees) and zoom (+-10 %),
      brightness/contrast jitter. (Crops are done in tf.data by ``load``.)
    - ``"strong"``: flip, RandAugment (2 ops), random erasing.

    Rotation, zoom and RandAugment do not XLA-compile; under
    ``jit_compile=True`` Keras falls back for them.

    Args:
        policy: one of ``"none"``, ``"light"``, ``"fgvc"``, ``"strong"``.
            Defaults to ``"fgvc"``.
        seed: base seed of the layers. Defaults to None.

    >>> aug = build_augmenter("light", seed=1)
    >>> [layer.__class__.__name__ for layer in aug.layers]
    ['RandomFlip']
    >>> x = keras.ops.ones((2, 8, 8, 3))
    >>> bool(keras.ops.all(aug(x, training=False) == x))
    True
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}. Received: policy={policy!r}")

    def s(i):
        return None if seed is None else int(seed) + i

    value_range = (0, 255)
    layers = {
        "none": lambda: [keras.layers.Identity()],
        "light": lambda: [keras.layers.RandomFlip("horizontal", seed=s(0))],
        "fgvc": lambda: [
            keras.layers.RandomFlip("horizontal", seed=s(0)),
            keras.layers.RandomRotation(0.025, fill_mode="reflect", seed=s(1)),
            keras.layers.RandomZoom(0.1, fill_mode="reflect", seed=s(2)),
            keras.layers.RandomBrightness(0.15, value_range=value_range, seed=s(3)),
            keras.layers.RandomContrast(0.15, value_range=value_range, seed=s(4)),
        ],
        "strong": lambda: [
            keras.layers.RandomFlip("horizontal", seed=s(0)),
            keras.layers.RandAugment(value_range=value_range, num_ops=2, factor=0.5, seed=s(1)),
            keras.layers.RandomErasing(
                factor=0.5, scale=(0.02, 0.2), value_range=value_range, seed=s(2)
            ),
        ],
    }[policy]()
    return keras.Sequential(layers, name=f"augment_{policy}")
