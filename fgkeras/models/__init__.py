"""Model families of the zoo, one file each; importing registers their models."""

from fgkeras.models import bilinear, cnn

__all__ = ["bilinear", "cnn"]
