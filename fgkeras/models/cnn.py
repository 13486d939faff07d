"""The global-pooling baseline every fine-grained method is measured against."""

import keras
from keras import layers

from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.registry import register_model

POOLINGS = {"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D}


def build_baseline(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(224, 224, 3),
    pooling: str = "avg",
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "baseline",
) -> keras.Model:
    """Backbone, global pooling, linear classifier: the standard CNN classifier.

    He et al., "Deep Residual Learning for Image Recognition", CVPR 2016
    (https://arxiv.org/abs/1512.03385), as fine-tuned for fine-grained
    recognition by nearly every later paper.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: a name from `fgkeras.models.backbones.list_backbones()`.
            Defaults to "resnet50".
        weights: "imagenet", None (random initialization) or a weights file.
            Defaults to "imagenet".
        input_shape: (height, width, 3) of raw 0-255 RGB input. Defaults to
            (224, 224, 3).
        pooling: "avg" or "max" global pooling. Defaults to "avg".
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "baseline".

    >>> model = build_baseline(10, backbone="tiny", weights=None, input_shape=(28, 28, 1))
    >>> model.output_shape
    (None, 10)
    """
    check_num_classes(num_classes)
    if pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be one of {list(POOLINGS)}. Received: {pooling!r}")
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    pooled = POOLINGS[pooling](name="pooler")(feature_map)
    logits = classification_head(pooled, num_classes, dropout)
    return keras.Model(inputs, logits, name=name)


@register_model(
    family="cnn",
    paper="Deep Residual Learning for Image Recognition",
    year=2016,
    url="https://arxiv.org/abs/1512.03385",
    tags=("global-pooling", "baseline"),
)
def baseline(**kwargs):
    """Backbone + global average pooling + linear classifier."""
    return build_baseline(**{"backbone": "resnet50", "name": "baseline", **kwargs})
