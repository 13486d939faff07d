"""Helpers of the export tests: tiny 32×32 models with confident outputs, sample images."""

import keras
import numpy as np
import tensorflow as tf

import fgkeras
from fgkeras.serving.samples import decode_with_pil, encode, synthetic_images

SIZE = 32
CLASS_NAMES = ["sparrow", "wren", "finch", "robin", "tit"]


def build(name, seed=0, **kwargs):
    """A tiny zoo model whose logits are scaled up, so probabilities are far from uniform
    and any preprocessing mismatch shows in the outputs. Seeded: the same weights each run."""
    keras.utils.set_random_seed(seed)
    model = fgkeras.build(
        name,
        num_classes=len(CLASS_NAMES),
        backbone="tiny",
        weights=None,
        input_shape=(SIZE, SIZE, 3),
        **kwargs,
    )
    dense = model.get_layer("predictions")
    dense.kernel.assign(dense.kernel * 100.0)
    return model


def png_and_jpeg(count=4, size=(45, 37), seed=3):
    """``(png_bytes, jpeg_bytes, pictures)`` of smooth synthetic pictures."""
    pictures = synthetic_images(count, size=size, seed=seed)
    return encode(pictures, "png"), encode(pictures, "jpeg"), pictures


def expected_outputs(model, encoded, resize_size=None):
    """What the Keras model says about encoded images, decoded by Pillow and resized
    by the evaluation pipeline's function."""
    from fgkeras.serving.preprocess import resize_for_eval

    pixels = np.stack(
        [resize_for_eval(decode_with_pil(data), SIZE, resize_size).numpy() for data in encoded]
    )
    return predict_outputs(model, pixels)


def predict_outputs(model, pixels):
    """``model.predict`` probabilities, logits and pooler embedding on model-size pixels."""
    logits = model.predict(pixels, verbose=0)
    pooler = keras.Model(model.inputs, model.get_layer("pooler").output)
    return {
        "logits": logits,
        "probabilities": tf.nn.softmax(logits).numpy(),
        "embedding": pooler.predict(pixels, verbose=0),
    }
