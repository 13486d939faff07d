"""Tree-structured recurrence: a Child-Sum Tree-LSTM over a spatial quadtree.

`tree_lstm`: the backbone's feature map is the leaf level of a quadtree
(cells → 2×2 blocks → ... → the whole image); a Child-Sum Tree-LSTM
(Tai, Socher and Manning, ACL 2015, https://arxiv.org/abs/1503.00075)
summarises it bottom-up, every node reading its region's mean feature and
its children's states, and the root's hidden state is the image
descriptor. See `fgkeras.layers.QuadtreeTreeLSTM` for the recursion and how
maps whose side is not a power of two are handled.
"""

import keras
from keras import layers

from fgkeras.layers import QuadtreeTreeLSTM
from fgkeras.models.common import backbone_feature_map, channel_reduction, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.registry import register_model

TAI_2015 = "Improved Semantic Representations From Tree-Structured Long Short-Term Memory Networks"


def build_tree_lstm(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(448, 448, 3),
    units: int = 256,
    reduce_channels: int | None = 256,
    non_power_of_two: str = "pad",
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "tree_lstm",
) -> keras.Model:
    """Backbone, Child-Sum Tree-LSTM over the feature map's quadtree, linear classifier.

    Tai, Socher and Manning, ACL 2015 (https://arxiv.org/abs/1503.00075).
    The leaves are the cells of the (channel-reduced) feature map, each
    parent a 2×2 block below, the root the whole image; "pooler" outputs
    the root's hidden state (the embedding). With ResNet50 at 448 px the map
    is 14×14: "pad" makes a 16×16 leaf grid (border nodes without real
    cells are dropped), "pool" averages it down to 8×8.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "resnet50".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        units: hidden and cell size of every tree node (the embedding size).
            Defaults to 256.
        reduce_channels: 1×1 convolution + BN + ReLU to this many channels
            before the tree (None: the backbone's channels). Defaults to 256.
        non_power_of_two: "pad" or "pool", how a map whose side is not a
            power of two becomes the leaf grid. Defaults to "pad".
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "tree_lstm".

    >>> model = build_tree_lstm(4, backbone="tiny", weights=None, input_shape=(32, 32, 3),
    ...                         units=16, reduce_channels=8)
    >>> model.get_layer("feature_map").output.shape, model.get_layer("pooler").output.shape
    ((None, 8, 8, 128), (None, 16))
    """
    check_num_classes(num_classes)
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    regions = channel_reduction(feature_map, reduce_channels)
    root = QuadtreeTreeLSTM(units, non_power_of_two=non_power_of_two, name="tree_lstm")(regions)
    pooled = layers.Identity(name="pooler")(root)
    logits = classification_head(pooled, num_classes, dropout)
    return keras.Model(inputs, logits, name=name)


@register_model(
    family="recurrent",
    paper=TAI_2015,
    year=2015,
    url="https://arxiv.org/abs/1503.00075",
    tags=("tree-lstm", "recurrent", "tree"),
    data_config={"input_size": (448, 448), "resize_size": 512},
    capabilities=("classify", "embed", "grad_cam", "mixing"),
)
def tree_lstm(**kwargs):
    """Child-Sum Tree-LSTM over a spatial quadtree of region features; root state classifies."""
    return build_tree_lstm(**{"backbone": "resnet50", "name": "tree_lstm", **kwargs})
