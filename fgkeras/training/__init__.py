"""Training: `train` fits a registered model and writes a resumable run directory.

Modules: `run` (the `train` function), `trainer` (the one training step:
augmentation on the device, per-layer learning rates, multi-pass losses),
`callbacks` (checkpoints, divergence stop, phases), `run_dir` (the one
reader and writer of run directories), `distribute` (tf.distribute set-up),
`adaptation` (AdaBN: BatchNorm statistics re-estimated on target images).
"""

from fgkeras.training.adaptation import adapt_batchnorm
from fgkeras.training.callbacks import DivergenceError
from fgkeras.training.config import TrainConfig
from fgkeras.training.run import TrainResult, train

__all__ = ["DivergenceError", "adapt_batchnorm", "TrainConfig", "TrainResult", "train"]
