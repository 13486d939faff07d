"""Inference: predictions for image files and explanations of where a model looked.

Modules: `images` (the one decode-and-resize path shared by predict,
explain and export), `predictors` (load a run, ``.keras`` file or
SavedModel), `prediction` (`predict`), `explanations` (Grad-CAM, the
models' own attention maps, overlays), `speed` (time per image against
batch size, latency of one call, as ratios measured in one run).
"""

from fgkeras.inference.explanations import explain
from fgkeras.inference.prediction import predict

__all__ = ["explain", "predict"]
