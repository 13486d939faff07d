"""Backbone input preprocessing as a weightless, serializable layer.

Models of the zoo take raw 0-255 RGB pixels; each backbone's own
normalization happens inside the model through this layer, so training,
evaluation and exported SavedModels all see the same arithmetic.
"""

import keras
from keras import ops

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

MODES = ("caffe", "torch", "tf", "unit", "none")


@keras.saving.register_keras_serializable(package="fgkeras")
class ImagePreprocessing(keras.layers.Layer):
    """Map raw 0-255 RGB pixels to what a backbone expects.

    The modes are those of `keras.applications.imagenet_utils.preprocess_input`:
    "caffe" (RGB to BGR, ImageNet mean subtracted; VGG, ResNet v1), "torch"
    (scaled to 0-1, then ImageNet mean/std; DenseNet), "tf" (scaled to -1..1;
    Inception, ResNet v2), plus "unit" (scaled to 0-1) and "none" (for
    backbones that normalize internally, e.g. EfficientNetV2, ConvNeXt).

    Args:
        mode: one of "caffe", "torch", "tf", "unit", "none". Defaults to "tf".

    >>> import numpy as np
    >>> layer = ImagePreprocessing("tf")
    >>> np.asarray(layer(np.array([[[[0.0, 127.5, 255.0]]]]))).round(3).tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """

    def __init__(self, mode="tf", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(CAFFE_MEAN_BGR, x.dtype)
        if self.mode == "torch":
            mean = ops.convert_to_tensor(IMAGENET_MEAN_RGB, x.dtype)
            std = ops.convert_to_tensor(IMAGENET_STD_RGB, x.dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "unit":
            return x / 255.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
