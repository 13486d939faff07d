"""fgkeras: fine-grained image recognition with Keras 3.

Importing the package registers every model, layer and loss, so a saved
``.keras`` file of any zoo model loads after a bare ``import fgkeras``.

>>> import fgkeras
>>> model = fgkeras.build("bcnn", num_classes=4, backbone="tiny", weights=None,
...                       input_shape=(32, 32, 3))
>>> model.output_shape
(None, 4)
"""

from fgkeras import data, layers, losses, models
from fgkeras.evaluation import evaluate, evaluate_few_shot, evaluate_run, evaluate_zero_shot
from fgkeras.inference import explain, predict
from fgkeras.models import build, list_backbones, list_models, model_card, register_model
from fgkeras.serving import export
from fgkeras.training import train
from fgkeras.version import __version__

__all__ = [
    "__version__",
    "build",
    "data",
    "evaluate",
    "evaluate_few_shot",
    "evaluate_run",
    "evaluate_zero_shot",
    "explain",
    "export",
    "layers",
    "list_backbones",
    "list_models",
    "losses",
    "model_card",
    "models",
    "predict",
    "register_model",
    "train",
]
