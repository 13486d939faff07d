"""MA-CNN: part attention by channel grouping, with its grouping loss (§3.1.3).

Zheng, Fu, Mei and Luo, "Learning Multi-Attention Convolutional Neural
Network for Fine-Grained Image Recognition", ICCV 2017
(https://openaccess.thecvf.com/content_iccv_2017/html/Zheng_Learning_Multi-Attention_Convolutional_ICCV_2017_paper.html).

Channels that peak at the same place form a part: per part, FC layers weight
the channels, and the weighted channel map is the part's attention map
(`ChannelGroupingAttention`, "attention_maps"). Parts are pooled from the
feature map by their maps ("part_features" → "pooler") and classified.

The channel-grouping loss keeps each map compact around its peak and the
maps apart: L_cng = Σ_i Dis(M_i) + λ·Div(M_i), with Dis(M_i) = mean_xy
m_i(x, y)·‖(x, y) − t_i‖² (t_i the peak of M_i, coordinates in [0, 1]) and
Div(M_i) = mean_xy m_i(x, y)·(max_{k≠i} m_k(x, y) − mrg). `MACNN.train_step`
adds it to the cross-entropy. With ``alternate_every=N`` the two take turns
as in the paper (cross-entropy for all but the grouping layer, then L_cng
for the grouping layer); with 0 the cross-entropy trains everything and
L_cng the grouping layer, at every step.
"""

import keras
from keras import layers, ops

from fgkeras.layers import BilinearAttentionPooling, ChannelGroupingAttention
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.multi_pass import (
    MultiPassModel,
    alternation_gates,
    check_alternate_every,
    replica_scaled,
)
from fgkeras.models.registry import register_model

MA_CNN_URL = (
    "https://openaccess.thecvf.com/content_iccv_2017/html/"
    "Zheng_Learning_Multi-Attention_Convolutional_ICCV_2017_paper.html"
)


def channel_grouping_loss(maps, margin=0.02, diversity_weight=2.0):
    """MA-CNN's L_cng = Dis + λ·Div of part maps (batch, h, w, parts), batch mean.

    Args:
        maps: part attention maps in [0, 1].
        margin: mrg of the diversity term. Defaults to 0.02.
        diversity_weight: λ. Defaults to 2.0.

    >>> import numpy as np
    >>> maps = np.zeros((1, 2, 2, 2), "float32")
    >>> maps[0, 0, 0, 0] = 1.0; maps[0, 1, 1, 1] = 1.0   # two one-cell parts, apart
    >>> round(float(channel_grouping_loss(maps, margin=0.0)), 6)
    0.0
    >>> maps[0, 0, 0, 1] = 1.0   # part 2 also covers part 1's cell
    >>> round(float(channel_grouping_loss(maps, margin=0.0)), 4)  # Dis 0.125, Div 2 x 0.25
    1.125
    """
    maps = ops.cast(maps, "float32")
    batch, height, width, parts = (ops.shape(maps)[i] for i in range(4))
    rows = (ops.arange(height, dtype="float32") + 0.5) / ops.cast(height, "float32")
    cols = (ops.arange(width, dtype="float32") + 0.5) / ops.cast(width, "float32")
    flat = ops.reshape(maps, (batch, -1, parts))
    peak = ops.argmax(flat, axis=1)  # (batch, parts)
    peak_y = ops.take(rows, peak // width)
    peak_x = ops.take(cols, peak % width)
    dist = ops.square(rows[None, :, None, None] - peak_y[:, None, None, :]) + ops.square(
        cols[None, None, :, None] - peak_x[:, None, None, :]
    )
    compactness = ops.mean(maps * dist, axis=(1, 2))
    num_parts = maps.shape[-1]
    others = maps[..., None, :] - 2.0 * ops.eye(num_parts, dtype=maps.dtype)
    others = ops.maximum(ops.max(others, axis=-1), 0.0)
    diversity = ops.mean(maps * (others - margin), axis=(1, 2))
    return ops.mean(ops.sum(compactness + diversity_weight * diversity, axis=-1))


@keras.saving.register_keras_serializable(package="fgkeras")
class MACNN(MultiPassModel):
    """MA-CNN with cross-entropy + channel-grouping loss in its `train_step`.

    Built by `build_ma_cnn`; see the module docstring. The grouping layer is
    the layer named "attention_maps".
    https://openaccess.thecvf.com/content_iccv_2017/html/Zheng_Learning_Multi-Attention_Convolutional_ICCV_2017_paper.html

    Args:
        grouping_loss_weight: weight of L_cng. Defaults to 1.0.
        margin: mrg of the diversity term. Defaults to 0.02.
        diversity_weight: λ. Defaults to 2.0.
        alternate_every: steps per phase of the alternation (0: both every
            step). Defaults to 0.
        *args, **kwargs: the functional ``inputs``, ``outputs``, ``name``.

    >>> model = build_ma_cnn(3, backbone="tiny", weights=None, input_shape=(32, 32, 3))
    >>> model.diversity_weight
    2.0
    """

    INTERMEDIATES = ("attention_maps",)
    LOSS_TERMS = ("classification_loss", "grouping_loss")

    def __init__(
        self,
        *args,
        grouping_loss_weight=1.0,
        margin=0.02,
        diversity_weight=2.0,
        alternate_every=0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.grouping_loss_weight = float(grouping_loss_weight)
        self.margin = float(margin)
        self.diversity_weight = float(diversity_weight)
        self.alternate_every = check_alternate_every(alternate_every)

    def train_losses(self, x, y, sample_weight, loss_fn):
        out = self.run(x, training=True)
        classification = loss_fn(out["logits"])
        grouping = replica_scaled(
            channel_grouping_loss(out["attention_maps"], self.margin, self.diversity_weight)
        )
        terms = {"classification_loss": classification, "grouping_loss": grouping}
        terms["loss"] = classification + self.grouping_loss_weight * grouping
        return terms, out["logits"]

    def trainable_groups(self, terms, step):
        grouping = self.get_layer("attention_maps").trainable_weights
        grouping_ids = {id(weight) for weight in grouping}
        everything = self.trainable_weights
        classification_on, grouping_on = alternation_gates(step, self.alternate_every)
        if self.alternate_every:
            everything = [weight for weight in everything if id(weight) not in grouping_ids]
        return [
            (terms["classification_loss"] * classification_on, everything),
            (self.grouping_loss_weight * terms["grouping_loss"] * grouping_on, grouping),
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "grouping_loss_weight": self.grouping_loss_weight,
            "margin": self.margin,
            "diversity_weight": self.diversity_weight,
            "alternate_every": self.alternate_every,
        }


def build_ma_cnn(
    num_classes: int = 200,
    backbone: str = "vgg19",
    weights="imagenet",
    input_shape=(448, 448, 3),
    num_parts: int = 4,
    hidden_units: int = 64,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "ma_cnn",
    **training_kwargs,
) -> MACNN:
    """Build MA-CNN: channel-grouping part maps, part pooling, shared head.

    Zheng et al., ICCV 2017 (see the module docstring). The paper classifies
    each part with its own softmax and then their concatenation; here the
    concatenated part descriptors go through the shared head.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "vgg19".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        num_parts: number of part maps (2 or 4 in the paper). Defaults to 4.
        hidden_units: width of each part's first FC layer. Defaults to 64.
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "ma_cnn".
        **training_kwargs: `MACNN` options (loss weights, ``alternate_every``).

    >>> model = build_ma_cnn(4, backbone="tiny", weights=None, input_shape=(32, 32, 3),
    ...                      num_parts=2)
    >>> model.get_layer("pooler").output.shape
    (None, 256)
    """
    check_num_classes(num_classes)
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    maps = ChannelGroupingAttention(num_parts, hidden_units, name="attention_maps")(feature_map)
    parts = BilinearAttentionPooling(normalize=False, name="part_features")([feature_map, maps])
    pooled = layers.Identity(name="pooler")(parts)
    logits = classification_head(pooled, num_classes, dropout)
    return MACNN(inputs, logits, name=name, **training_kwargs)


@register_model(
    family="attention",
    paper="Learning Multi-Attention Convolutional Neural Network for Fine-Grained "
    "Image Recognition",
    year=2017,
    url=MA_CNN_URL,
    tags=("attention", "part-based", "channel-grouping", "multi-pass"),
    data_config={"input_size": (448, 448), "resize_size": 512},
    capabilities=("classify", "embed", "grad_cam", "attention_maps", "multi_pass"),
    # VGG-19, 4 parts + object (configs/*_ma_cnn_vgg19.yaml).
    paper_results={"CUB-200-2011": 0.865, "FGVC-Aircraft": 0.899, "Stanford Cars": 0.928},
)
def ma_cnn(**kwargs):
    """MA-CNN: channel-grouping part attention with its compactness/diversity loss."""
    return build_ma_cnn(**{"backbone": "vgg19", "name": "ma_cnn", **kwargs})
