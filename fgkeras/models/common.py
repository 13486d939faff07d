"""Pieces shared by the model families: the backbone stem and channel reduction."""

import keras
from keras import layers

from fgkeras.checks import check_int
from fgkeras.models.backbones import build_backbone


def backbone_feature_map(
    inputs,
    backbone: str,
    weights,
    freeze_backbone: bool = False,
    stream: str = "",
):
    """Run a backbone sub-model on ``inputs``; return its map as "feature_map".

    The sub-model is named "backbone" (or "backbone_b" for a second stream),
    so the two-phase recipe can freeze it with one switch:
    ``model.get_layer("backbone").trainable = False``.

    Args:
        inputs: the model's raw-pixel `keras.Input`.
        backbone: a name from `fgkeras.models.backbones.list_backbones()`.
        weights: "imagenet", None or a weights file path.
        freeze_backbone: build it with ``trainable=False``. Defaults to False.
        stream: "" for the first stream, "b" for a second. Defaults to "".

    >>> x = keras.Input((32, 32, 3))
    >>> backbone_feature_map(x, "tiny", weights=None).shape
    (None, 8, 8, 128)
    """
    suffix = f"_{stream}" if stream else ""
    extractor = build_backbone(
        backbone, tuple(inputs.shape[1:]), weights=weights, model_name=f"backbone{suffix}"
    )
    extractor.trainable = not freeze_backbone
    return layers.Identity(name=f"feature_map{suffix}")(extractor(inputs))


def channel_reduction(feature_map, channels, name="channel_reduction"):
    """Optional 1×1 convolution + BN + ReLU to ``channels`` (None: unchanged).

    >>> x = keras.Input((7, 7, 512))
    >>> channel_reduction(x, 64).shape
    (None, 7, 7, 64)
    """
    if channels is None:
        return feature_map
    check_int("reduce_channels", channels)
    x = layers.Conv2D(channels, 1, use_bias=False, name=name)(feature_map)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def model_input(input_shape):
    """The raw-pixel input every model takes, named "image" like the data feature."""
    if len(tuple(input_shape)) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels). Received: input_shape={input_shape}"
        )
    return keras.Input(tuple(input_shape), name="image")


def model_inputs(model, x):
    """What ``model`` takes from a batch's inputs ``x``.

    Sources loaded with ``features=(...)`` give ``{"image": ..., "attributes":
    ..., ...}`` dicts; a model whose only input is the image gets
    ``x["image"]``, a model with several named inputs the entries it names;
    anything else passes through.

    >>> import keras, numpy as np
    >>> net = keras.Sequential([keras.Input((2,), name="image"), keras.layers.Identity()])
    >>> model_inputs(net, {"image": np.ones((1, 2)), "attributes": np.zeros((1, 3))}).shape
    (1, 2)
    """
    if not isinstance(x, dict):
        return x
    names = [tensor.name for tensor in getattr(model, "inputs", None) or []]
    if len(names) == 1 and "image" in x:
        return x["image"]
    if names and all(name in x for name in names):
        return {name: x[name] for name in names}
    return x
