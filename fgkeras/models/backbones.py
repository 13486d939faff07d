"""Backbones: feature extractors that take raw 0-255 RGB pixels.

Each backbone is a `keras.Model` (a sub-model of the zoo's models, so it can
be frozen with one switch) whose first layer is its own `ImagePreprocessing`.
Its output is the last convolutional feature map; with ``stages=True`` it
returns a dict of named stages ``{"stage1": ..., "stage5": ...}``, one per
output stride 2, 4, 8, 16, 32, so other code can fetch them by name.
`feature_maps` runs any of a trained backbone's layers on images.

Backbones come from `keras.applications`, plus ``"tiny"``, a small, fast CNN
for CPU work and low-resolution data (e.g. 28×28 Fashion-MNIST).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Callable

import keras
import numpy as np
from keras import layers

from fgkeras.layers.preprocessing import ImagePreprocessing


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone: constructor, preprocessing, smallest input."""

    constructor: Callable[..., keras.Model] | None
    preprocessing: str
    min_size: int = 32
    feature_layer: str | None = None  # None: the application's last layer
    extra_kwargs: tuple = ()


_apps = keras.applications
BACKBONES: dict[str, BackboneSpec] = {
    # B-CNN takes VGG's conv5_3 (after ReLU), before the last max pooling.
    "vgg16": BackboneSpec(_apps.VGG16, "caffe", feature_layer="block5_conv3"),
    "vgg19": BackboneSpec(_apps.VGG19, "caffe", feature_layer="block5_conv4"),
    "resnet50": BackboneSpec(_apps.ResNet50, "caffe"),
    "resnet101": BackboneSpec(_apps.ResNet101, "caffe"),
    "resnet50v2": BackboneSpec(_apps.ResNet50V2, "tf"),
    "resnet101v2": BackboneSpec(_apps.ResNet101V2, "tf"),
    "inception_v3": BackboneSpec(_apps.InceptionV3, "tf", min_size=75),
    "densenet121": BackboneSpec(_apps.DenseNet121, "torch"),
    "efficientnetv2_b0": BackboneSpec(_apps.EfficientNetV2B0, "none"),
    "efficientnetv2_b1": BackboneSpec(_apps.EfficientNetV2B1, "none"),
    "efficientnetv2_b2": BackboneSpec(_apps.EfficientNetV2B2, "none"),
    "efficientnetv2_b3": BackboneSpec(_apps.EfficientNetV2B3, "none"),
    "efficientnetv2_s": BackboneSpec(_apps.EfficientNetV2S, "none"),
    "mobilenetv3_small": BackboneSpec(_apps.MobileNetV3Small, "none"),
    "mobilenetv3_large": BackboneSpec(_apps.MobileNetV3Large, "none"),
    "convnext_tiny": BackboneSpec(_apps.ConvNeXtTiny, "none"),
    "tiny": BackboneSpec(None, "unit", min_size=8),
}

TINY_WIDTHS = (32, 64, 128, 256, 256)
TINY_CONVS = (2, 2, 2, 2, 2)
# What a training run writes for other models to start from (see pretrained_backbone_file).
BACKBONE_WEIGHTS_FILE = "backbone.weights.h5"
BACKBONE_INFO_FILE = "backbone.json"


def list_backbones() -> list[str]:
    """Names accepted by ``backbone=``.

    >>> "vgg16" in list_backbones() and "tiny" in list_backbones()
    True
    """
    return sorted(BACKBONES)


def build_backbone(
    name: str = "resnet50",
    input_shape: tuple = (224, 224, 3),
    weights: str | None = "imagenet",
    stages: bool = False,
    model_name: str = "backbone",
) -> keras.Model:
    """Build a backbone that maps raw 0-255 RGB pixels to feature maps.

    Args:
        name: one of `list_backbones()`. Defaults to "resnet50".
        input_shape: (height, width, channels) of the input. Defaults to
            (224, 224, 3).
        weights: "imagenet" (downloaded by Keras), None (random
            initialization), the path of a weights file, or a training run
            directory (its ``backbone.weights.h5``: a backbone pretrained by
            `fgkeras.train`; see `pretrained_backbone_file`). A file named
            ``backbone.weights.h5`` (what `save_backbone_weights` writes)
            is loaded into this whole backbone; any other file goes to the
            Keras application (e.g. its ``..._notop.h5`` ImageNet file) or,
            for ``tiny``, is loaded into it. Defaults to "imagenet".
        stages: return a dict of the feature maps at each output stride
            ("stage1" = stride 2 ... "stage5" = stride 32) instead of the
            last feature map alone. Defaults to False.
        model_name: name of the returned sub-model. Defaults to "backbone".

    Returns:
        A `keras.Model` named ``model_name``.

    >>> backbone = build_backbone("tiny", input_shape=(28, 28, 1), weights=None)
    >>> backbone.output_shape
    (None, 7, 7, 128)
    """
    spec = _spec(name)
    input_shape = _check_input_shape(name, spec, input_shape, weights)
    if weights not in ("imagenet", None) and os.path.isdir(str(weights)):
        weights = pretrained_backbone_file(weights)
    own_file = weights is not None and (
        spec.constructor is None or os.path.basename(str(weights)) == BACKBONE_WEIGHTS_FILE
    )
    inputs = keras.Input(input_shape, name="image")
    x = ImagePreprocessing(spec.preprocessing, name="preprocessing")(inputs)
    if spec.constructor is None:
        body = keras.Model(inputs, tiny_features(x, input_shape))
    else:
        app_weights = None if own_file else weights
        body = _application_body(name, spec, inputs, x, input_shape, app_weights)
    outputs = _stage_outputs(body, input_shape) if stages else body.output
    backbone = keras.Model(inputs, outputs, name=model_name)
    if own_file:
        _load_backbone_weights(backbone, weights, name, input_shape)
    return backbone


def feature_maps(model, images, layer_names=None) -> dict:
    """A backbone's intermediate feature maps on ``images``, by layer name.

    Probes the ``backbone`` sub-model of a zoo model (or a backbone from
    `build_backbone` itself) in inference mode, so what a trained network
    computes layer by layer can be drawn (see
    `fgkeras.evaluation.plots.plot_feature_maps`).

    Args:
        model: a model from `fgkeras.build` (with a ``backbone`` layer) or a
            backbone.
        images: raw 0-255 pixels ``[B, H, W, C]``, as the model takes them.
        layer_names: names of layers inside the backbone. Defaults to None:
            the last layer at each spatial size (for ``tiny``, the last
            ReLU of each stage), shallow to deep.

    Returns:
        ``{layer name: float32 array [B, h, w, channels]}`` in the given order.

    >>> backbone = build_backbone("tiny", input_shape=(28, 28, 1), weights=None)
    >>> maps = feature_maps(backbone, np.zeros((2, 28, 28, 1), "float32"))
    >>> {name: value.shape for name, value in maps.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'tiny_stage1_conv2_relu': (2, 28, 28, 32), 'tiny_stage2_conv2_relu': (2, 14, 14, 64),
     'tiny_stage3_conv2_relu': (2, 7, 7, 128)}
    """
    names = [layer.name for layer in model.layers]
    backbone = model.get_layer("backbone") if "backbone" in names else model
    if layer_names is None:
        last = {}
        for layer in backbone.layers[1:]:  # not the input layer
            shape = getattr(layer.output, "shape", None)
            if shape is not None and len(shape) == 4:
                last.pop(tuple(shape[1:3]), None)  # keep dict order = depth of the last layer
                last[tuple(shape[1:3])] = layer.name
        layer_names = list(last.values())
    outputs = {}
    for name in layer_names:
        try:
            outputs[name] = backbone.get_layer(name).output
        except ValueError as error:
            raise ValueError(
                f"Backbone {backbone.name!r} has no layer named {name!r}. Its layers: "
                f"{[layer.name for layer in backbone.layers]}. "
                f"Received: layer_names={layer_names!r}"
            ) from error
    probe = keras.Model(backbone.input, outputs)
    result = probe(np.asarray(images, "float32"), training=False)
    return {name: np.asarray(result[name]) for name in layer_names}


def pretrained_backbone_file(run_dir) -> str:
    """The backbone weights a training run wrote: ``RUN_DIR/backbone.weights.h5``.

    `fgkeras.train` saves the weights of its model's ``backbone`` sub-model
    there (Keras ``save_weights`` format), with ``backbone.json`` beside it
    (backbone name, input shape, model and source it was trained with), so
    that any model on the same backbone, at the same input size, can start
    from it: ``fgkeras.build(..., weights=RUN_DIR)`` or ``fgkeras train
    --weights RUN_DIR``. The ``tiny`` backbone's depth follows the input
    size: pretrain at the size you fine-tune at.

    >>> pretrained_backbone_file("/no/such/run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No backbone.weights.h5 in '/no/such/run': ...
    """
    path = os.path.join(os.fspath(run_dir), BACKBONE_WEIGHTS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No {BACKBONE_WEIGHTS_FILE} in {os.fspath(run_dir)!r}: weights=<directory> takes "
            "a training run directory written by fgkeras.train (runs written before this "
            "file existed can be converted with fgkeras.models.backbones."
            "save_backbone_weights(keras.models.load_model('RUN/model.keras'), 'RUN'))."
        )
    return path


def save_backbone_weights(model: keras.Model, run_dir, info: dict | None = None) -> str | None:
    """Write ``model``'s ``backbone`` sub-model weights (and ``backbone.json``) to ``run_dir``.

    Returns the weights path, or None for a model without a ``backbone`` layer.

    >>> import tempfile, fgkeras
    >>> model = fgkeras.build("baseline", num_classes=2, backbone="tiny", weights=None,
    ...                       input_shape=(32, 32, 3))
    >>> run = tempfile.mkdtemp()
    >>> path = save_backbone_weights(model, run, {"backbone": "tiny"})
    >>> sorted(os.listdir(run))
    ['backbone.json', 'backbone.weights.h5']
    >>> fgkeras.build("bcnn", num_classes=5, backbone="tiny", weights=run,
    ...               input_shape=(32, 32, 3)).count_params() > 0
    True
    """
    try:
        backbone = model.get_layer("backbone")
    except ValueError:
        return None
    path = os.path.join(os.fspath(run_dir), BACKBONE_WEIGHTS_FILE)
    backbone.save_weights(path)
    record = {"input_shape": list(backbone.input_shape[1:]), **(info or {})}
    with open(os.path.join(os.fspath(run_dir), BACKBONE_INFO_FILE), "w") as file:
        json.dump(record, file, indent=2)
    return path


def _load_backbone_weights(backbone, path, name, input_shape):
    try:
        # Keras skips parts of a file that do not match with a warning and keeps
        # their random weights; a pretrained backbone loads whole or not at all.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            backbone.load_weights(path)
        skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
        if skipped:
            raise ValueError(skipped[0])
    except ValueError as error:
        info_path = os.path.join(os.path.dirname(os.path.abspath(path)), BACKBONE_INFO_FILE)
        saved = ""
        if os.path.exists(info_path):
            with open(info_path) as file:
                info = json.load(file)
            saved = (
                f" They were saved from backbone {info.get('backbone', '?')!r} at input "
                f"{tuple(info.get('input_shape', ()))}."
            )
        raise ValueError(
            f"The weights in {os.fspath(path)!r} do not fit backbone {name!r} at input "
            f"{tuple(input_shape)}.{saved} Use the same backbone (for 'tiny', the same input "
            f"size: its depth follows the size). ({str(error).splitlines()[0][:200]})"
        ) from error


def _spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ValueError(
            f"Unknown backbone {name!r}. Choose one of: {', '.join(list_backbones())}. "
            f"Received: backbone={name!r}"
        )
    return BACKBONES[name]


def _check_input_shape(name, spec, input_shape, weights) -> tuple:
    if len(input_shape) != 3 or any(d is None for d in input_shape[:2]):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with known height and "
            f"width. Received: input_shape={input_shape}"
        )
    height, width, channels = (int(d) for d in input_shape)
    if min(height, width) < spec.min_size:
        raise ValueError(
            f"Input {height}x{width} is too small for backbone {name!r}: it needs at least "
            f"{spec.min_size}x{spec.min_size}. Upsample the images, or use backbone='tiny' "
            f"for low-resolution data. Received: input_shape={tuple(input_shape)}"
        )
    if spec.preprocessing != "unit" and channels != 3:
        raise ValueError(
            f"Backbone {name!r} needs 3 (RGB) channels; repeat grayscale images to RGB "
            f"(the data pipeline's default). Received: input_shape={tuple(input_shape)}"
        )
    if weights not in ("imagenet", None) and not os.path.exists(str(weights)):
        raise FileNotFoundError(
            f"Weights file not found: {weights!r}. Pass weights='imagenet', weights=None "
            "(random initialization) or the path of an existing weights file."
        )
    if weights == "imagenet" and spec.constructor is None:
        raise ValueError(
            f"Backbone {name!r} has no ImageNet weights. Pass weights=None or a weights file. "
            f"Received: weights={weights!r}"
        )
    return height, width, channels


def _application_body(name, spec, inputs, x, input_shape, weights) -> keras.Model:
    try:
        app = spec.constructor(
            include_top=False,
            weights=weights,
            input_tensor=x,
            input_shape=input_shape,
            **dict(spec.extra_kwargs),
        )
    except Exception as error:
        if weights == "imagenet" and _looks_like_download_failure(error):
            raise ConnectionError(
                f"Could not download the ImageNet weights of backbone {name!r} "
                f"({type(error).__name__}: {str(error).splitlines()[0][:200]}). "
                "Work offline with weights=None (random initialization), or download the "
                "Keras '..._notop.h5' weights elsewhere and pass weights='/path/to/file.h5' "
                "(or put them under $KERAS_HOME/models)."
            ) from error
        raise
    if spec.feature_layer is not None:
        return keras.Model(inputs, app.get_layer(spec.feature_layer).output)
    return keras.Model(inputs, app.output)


def _looks_like_download_failure(error: Exception) -> bool:
    text = f"{type(error).__name__} {error}".lower()
    return any(
        word in text for word in ("url fetch", "urlopen", "name or service", "connection", "http")
    )


def tiny_features(x, input_shape, convs_per_stage=TINY_CONVS):
    """The ``tiny`` backbone's layers: a VGG-style CNN whose depth adapts to the input.

    Stages of ``TINY_WIDTHS`` channels, each after a 2×2 max pooling (but the
    first), with ``convs_per_stage`` 3×3 conv + BN + ReLU blocks; as many
    stages as leave a 7-14 px output map. A cheaper first stage (one
    convolution: 18 % fewer FLOPs at 64 px, 24 % at 28 px, 20 % faster
    steps) was measured and not adopted: it cost 0.4 points of Fashion-MNIST
    accuracy over three seeds (``benchmarks/tiny_backbone.py``).

    Args:
        x: the preprocessed image tensor.
        input_shape: (height, width, channels) of the image.
        convs_per_stage: convolutions in each stage. Defaults to `TINY_CONVS`.

    >>> x = keras.Input((28, 28, 1))
    >>> tiny_features(x, (28, 28, 1)).shape
    (None, 7, 7, 128)
    """
    poolings = max(0, min(len(TINY_WIDTHS) - 1, int(math.log2(min(input_shape[:2]) / 7))))
    stages = zip(TINY_WIDTHS[: poolings + 1], convs_per_stage)
    for stage, (width, convs) in enumerate(stages, start=1):
        if stage > 1:
            x = layers.MaxPooling2D(2, name=f"tiny_stage{stage}_pool")(x)
        for conv in range(1, convs + 1):
            prefix = f"tiny_stage{stage}_conv{conv}"
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=prefix)(x)
            # momentum 0.9 (Keras' default is 0.99): short CPU runs of a few hundred
            # steps otherwise end with moving statistics far from the data's.
            x = layers.BatchNormalization(momentum=0.9, name=f"{prefix}_bn")(x)
            x = layers.ReLU(name=f"{prefix}_relu")(x)
    return x


def _stage_outputs(body: keras.Model, input_shape) -> dict:
    """The last layer output at each power-of-two stride, as "stage1".."stage5"."""
    height = input_shape[0]
    found = {}
    for layer in body.layers:
        shape = getattr(layer.output, "shape", None)
        if shape is None or len(shape) != 4 or not shape[1]:
            continue
        stride = round(math.log2(height / shape[1]))
        if 1 <= stride <= 5:
            found[f"stage{stride}"] = layer.output
    return found
