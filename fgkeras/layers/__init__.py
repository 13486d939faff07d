"""Reusable serializable layers, one family per file."""

from fgkeras.layers.attention import (
    CBAM,
    ClassActivationMap,
    SoftAttentionPooling,
    SpatialSoftmax,
    SqueezeExcitation,
)
from fgkeras.layers.bilinear import BilinearPooling, SignedSqrtL2Normalization
from fgkeras.layers.compact_bilinear import CompactBilinearPooling
from fgkeras.layers.covariance import ISqrtCovPooling
from fgkeras.layers.glimpse import GlimpseBoxes, GlimpseSensor, Passthrough
from fgkeras.layers.hard_attention import (
    AttentionCropZoom,
    AttentionGuidedCrop,
    AttentionGuidedDrop,
    BoxcarMask,
    TopRegionCrop,
)
from fgkeras.layers.label_embedding import AttributeCompatibility
from fgkeras.layers.part_pooling import BilinearAttentionPooling, ChannelGroupingAttention
from fgkeras.layers.preprocessing import ImagePreprocessing
from fgkeras.layers.recurrent_attention import (
    DoublyStochasticPenalty,
    RecurrentAttention,
    SelectStep,
)
from fgkeras.layers.side_input import FeatureModulation, SideVector
from fgkeras.layers.text_encoder import DescriptionScores, TextEncoder
from fgkeras.layers.tree_decoder import ChildMask, DecoderStep, PredictionEmbedding
from fgkeras.layers.tree_lstm import QuadtreeTreeLSTM

__all__ = [
    "AttributeCompatibility",
    "AttentionCropZoom",
    "AttentionGuidedCrop",
    "AttentionGuidedDrop",
    "BilinearAttentionPooling",
    "BoxcarMask",
    "CBAM",
    "ChannelGroupingAttention",
    "ClassActivationMap",
    "DescriptionScores",
    "FeatureModulation",
    "GlimpseBoxes",
    "GlimpseSensor",
    "SideVector",
    "SoftAttentionPooling",
    "SpatialSoftmax",
    "SqueezeExcitation",
    "TextEncoder",
    "TopRegionCrop",
    "BilinearPooling",
    "CompactBilinearPooling",
    "ISqrtCovPooling",
    "ImagePreprocessing",
    "Passthrough",
    "QuadtreeTreeLSTM",
    "ChildMask",
    "DecoderStep",
    "PredictionEmbedding",
    "DoublyStochasticPenalty",
    "RecurrentAttention",
    "SelectStep",
    "SignedSqrtL2Normalization",
]
