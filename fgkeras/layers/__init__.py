"""Reusable serializable layers, one family per file."""

from fgkeras.layers.bilinear import BilinearPooling, SignedSqrtL2Normalization
from fgkeras.layers.compact_bilinear import CompactBilinearPooling
from fgkeras.layers.covariance import ISqrtCovPooling
from fgkeras.layers.preprocessing import ImagePreprocessing

__all__ = [
    "BilinearPooling",
    "CompactBilinearPooling",
    "ISqrtCovPooling",
    "ImagePreprocessing",
    "SignedSqrtL2Normalization",
]
