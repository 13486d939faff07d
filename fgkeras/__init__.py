"""fgkeras: fine-grained image recognition with Keras 3.

>>> import fgkeras
>>> model = fgkeras.build("bcnn", num_classes=4, backbone="tiny", weights=None,
...                       input_shape=(32, 32, 3))
>>> model.output_shape
(None, 4)
"""

from fgkeras import backbones, data, export, heads, layers, losses
from fgkeras.evaluation import evaluate, evaluate_run
from fgkeras.prediction import predict
from fgkeras.registry import build, list_models, model_card, register_model
from fgkeras.training import train

__version__ = "0.1.0"

__all__ = [
    "backbones",
    "build",
    "data",
    "evaluate",
    "evaluate_run",
    "export",
    "heads",
    "layers",
    "list_models",
    "losses",
    "model_card",
    "predict",
    "register_model",
    "train",
]
