"""Model families of the zoo, one file each; importing registers their models."""

from fgkeras.models import attention, bilinear, cnn, ma_cnn, ra_cnn, two_stage, ws_dan

__all__ = ["attention", "bilinear", "cnn", "ma_cnn", "ra_cnn", "two_stage", "ws_dan"]
