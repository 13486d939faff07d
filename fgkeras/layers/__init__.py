"""Reusable serializable layers, one family per file."""

from fgkeras.layers.attention import CBAM, SoftAttentionPooling, SqueezeExcitation
from fgkeras.layers.bilinear import BilinearPooling, SignedSqrtL2Normalization
from fgkeras.layers.compact_bilinear import CompactBilinearPooling
from fgkeras.layers.covariance import ISqrtCovPooling
from fgkeras.layers.hard_attention import (
    AttentionCropZoom,
    AttentionGuidedCrop,
    AttentionGuidedDrop,
    TopRegionCrop,
)
from fgkeras.layers.part_pooling import BilinearAttentionPooling, ChannelGroupingAttention
from fgkeras.layers.preprocessing import ImagePreprocessing

__all__ = [
    "AttentionCropZoom",
    "AttentionGuidedCrop",
    "AttentionGuidedDrop",
    "BilinearAttentionPooling",
    "CBAM",
    "ChannelGroupingAttention",
    "SoftAttentionPooling",
    "SqueezeExcitation",
    "TopRegionCrop",
    "BilinearPooling",
    "CompactBilinearPooling",
    "ISqrtCovPooling",
    "ImagePreprocessing",
    "SignedSqrtL2Normalization",
]
