"""The textbook attention forms of §4.2 on any backbone: soft and hard attention.

- `soft_attention`: attention maps a = softmax over locations of learned
  scores; the descriptor is Σ_l a_l f_l (Xu et al., "Show, Attend and
  Tell", ICML 2015, https://arxiv.org/abs/1502.03044). An optional SE or
  CBAM block gates the feature map first.
- `hard_attention`: the same maps choose *one* region, the square around
  their peak; the backbone looks again at that glimpse at full resolution.
  Picking the peak has no gradient, so the scores learn through the soft
  descriptor of the whole image, which is concatenated with the glimpse's
  (the "soft to train, hard to look" variant of Xu et al.'s hard attention,
  without REINFORCE).

Both name their maps "attention_maps" so `fgkeras.explain` can draw them.
"""

import keras
from keras import layers

from fgkeras.layers import (
    CBAM,
    BilinearAttentionPooling,
    SpatialSoftmax,
    SqueezeExcitation,
    TopRegionCrop,
)
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.registry import register_model

ATTENTION_BLOCKS = {None: None, "se": SqueezeExcitation, "cbam": CBAM}
XU_2015 = "Show, Attend and Tell: Neural Image Caption Generation with Visual Attention"


def shared_backbone(inputs, feature_map) -> keras.Model:
    """The "backbone" sub-model that produced ``feature_map``, to run it on other views.

    >>> x = keras.Input((32, 32, 3))
    >>> shared_backbone(x, backbone_feature_map(x, "tiny", weights=None)).name
    'backbone'
    """
    return keras.Model(inputs, feature_map).get_layer("backbone")


def attention_maps(feature_map, num_heads=1, hidden_units=None, prefix="attention"):
    """Soft attention maps (batch, h, w, num_heads) named "attention_maps".

    Scores are v·tanh(W f + b) (``hidden_units``) or v·f, from 1×1 convolutions.

    >>> x = keras.Input((7, 7, 16))
    >>> attention_maps(x, num_heads=2, hidden_units=8).shape
    (None, 7, 7, 2)
    """
    x = feature_map
    if hidden_units is not None:
        x = layers.Conv2D(hidden_units, 1, activation="tanh", name=f"{prefix}_hidden")(x)
    scores = layers.Conv2D(num_heads, 1, use_bias=False, name=f"{prefix}_scores")(x)
    return SpatialSoftmax(name=f"{prefix}_maps")(scores)


def _gated(feature_map, attention_block):
    if attention_block not in ATTENTION_BLOCKS:
        raise ValueError(
            f"`attention_block` must be one of {list(ATTENTION_BLOCKS)}. "
            f"Received: attention_block={attention_block!r}"
        )
    if attention_block is None:
        return feature_map
    block = ATTENTION_BLOCKS[attention_block]
    channels = feature_map.shape[-1]
    return block(ratio=max(1, min(16, channels // 4)), name="attention_block")(feature_map)


def build_soft_attention(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(224, 224, 3),
    num_heads: int = 1,
    hidden_units: int | None = 256,
    attention_block: str | None = None,
    feature_gradient: str = "uniform",
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "soft_attention",
) -> keras.Model:
    """Backbone, soft spatial attention pooling, linear classifier.

    Xu et al., "Show, Attend and Tell", ICML 2015
    (https://arxiv.org/abs/1502.03044), §4.2 of the survey. The descriptor
    of head k is Σ_l a_kl f_l, a_k = softmax_l(v_kᵀ tanh(W f_l + b)).

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "resnet50".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (224, 224, 3).
        num_heads: number of attention maps (descriptors concatenated).
            Defaults to 1.
        hidden_units: width of the additive scoring layer (None: linear
            scores). Defaults to 256.
        attention_block: None, "se" (squeeze-excitation) or "cbam" gating of
            the feature map before pooling. Defaults to None.
        feature_gradient: "attention" (plain back-propagation) or "uniform":
            the backbone is trained by the gradient global average pooling
            would give it, the maps by their own (same forward pass; see
            `BilinearAttentionPooling` and docs/attention.md, "Where soft
            attention looks", for what each does to the maps). Defaults to
            "uniform".
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "soft_attention".

    >>> model = build_soft_attention(4, backbone="tiny", weights=None,
    ...                              input_shape=(32, 32, 3), num_heads=2)
    >>> model.get_layer("attention_maps").output.shape, model.get_layer("pooler").output.shape
    ((None, 8, 8, 2), (None, 256))
    """
    check_num_classes(num_classes)
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    gated = _gated(feature_map, attention_block)
    maps = attention_maps(gated, num_heads, hidden_units)
    pooled = BilinearAttentionPooling(
        normalize=False, reduction="sum", feature_gradient=feature_gradient, name="pooler"
    )([gated, maps])
    logits = classification_head(pooled, num_classes, dropout)
    return keras.Model(inputs, logits, name=name)


def build_hard_attention(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(224, 224, 3),
    glimpse_fraction: float = 0.5,
    hidden_units: int | None = 256,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "hard_attention",
) -> keras.Model:
    """Soft attention finds the peak; the backbone looks again at a zoomed glimpse.

    The square of side ``glimpse_fraction`` around the attention peak is
    cropped (no gradient through the choice; `TopRegionCrop`), zoomed to
    the input size and run through the same backbone; its pooled features
    are concatenated with the soft-attention descriptor of the whole image.
    Xu et al., https://arxiv.org/abs/1502.03044 (hard vs soft attention).

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "resnet50".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (224, 224, 3).
        glimpse_fraction: side of the glimpse, as a fraction of the image.
            Defaults to 0.5.
        hidden_units: width of the additive scoring layer. Defaults to 256.
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "hard_attention".

    >>> model = build_hard_attention(4, backbone="tiny", weights=None, input_shape=(32, 32, 3))
    >>> model.get_layer("pooler").output.shape
    (None, 256)
    """
    check_num_classes(num_classes)
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    maps = attention_maps(feature_map, 1, hidden_units)
    context = BilinearAttentionPooling(normalize=False, reduction="sum", name="context_pooling")(
        [feature_map, maps]
    )
    glimpse = TopRegionCrop(tuple(input_shape[:2]), crop_fraction=glimpse_fraction, name="glimpse")(
        [inputs, maps]
    )
    glimpse_map = shared_backbone(inputs, feature_map)(glimpse)
    glimpse_features = layers.GlobalAveragePooling2D(name="glimpse_pooling")(glimpse_map)
    pooled = layers.Concatenate(name="pooler")([context, glimpse_features])
    logits = classification_head(pooled, num_classes, dropout)
    return keras.Model(inputs, logits, name=name)


@register_model(
    family="attention",
    paper=XU_2015,
    year=2015,
    url="https://arxiv.org/abs/1502.03044",
    tags=("attention", "soft-attention", "end-to-end"),
    capabilities=("classify", "embed", "grad_cam", "attention_maps", "mixing"),
)
def soft_attention(**kwargs):
    """Soft spatial attention pooling (optionally SE/CBAM-gated) on any backbone."""
    return build_soft_attention(**{"backbone": "resnet50", "name": "soft_attention", **kwargs})


@register_model(
    family="attention",
    paper=XU_2015,
    year=2015,
    url="https://arxiv.org/abs/1502.03044",
    tags=("attention", "hard-attention", "glimpse"),
    capabilities=("classify", "embed", "grad_cam", "attention_maps", "mixing"),
)
def hard_attention(**kwargs):
    """Hard attention: a zoomed glimpse at the attention peak, plus soft context."""
    return build_hard_attention(**{"backbone": "resnet50", "name": "hard_attention", **kwargs})
