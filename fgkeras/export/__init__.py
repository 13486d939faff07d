"""Export for TensorFlow Serving and for the edge (TFLite).

``fgkeras.export(model, "saved_models/NAME", class_names=names)`` writes
``saved_models/NAME/<version>/``, a SavedModel TF Serving loads as is:
image bytes in, class probabilities and top-k names out, preprocessing in
the graph, augmentation off. See docs/serving.md.

Modules, one purpose each: `savedmodel` (the `export` function), `signatures`
(what each signature computes), `preprocess` (decode and resize in the graph),
`versions` (atomic integer versions), `warmup` (TF Serving warmup records),
`serving` (REST and gRPC request formats), `tflite` (conversion and parity),
`verify` (fresh-process check), `samples` (sample images).

The package itself is callable, ``fgkeras.export(model, ...)`` being
`export`, so ``fgkeras.export`` can stay this package (and
``import fgkeras.export.tflite`` keep working) while reading as a function.

>>> import fgkeras.export
>>> callable(fgkeras.export), fgkeras.export.export is export
(True, True)
"""

import sys
import types

from fgkeras.export.savedmodel import export, read_report
from fgkeras.export.serving import grpc_predict, predict_request, rest_body, rest_predict
from fgkeras.export.signatures import SIGNATURE_NAMES, ServingFunctions
from fgkeras.export.verify import verify_saved_model
from fgkeras.export.versions import next_version


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        """``fgkeras.export(...)`` is `fgkeras.export.savedmodel.export`."""
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = [
    "SIGNATURE_NAMES",
    "ServingFunctions",
    "export",
    "grpc_predict",
    "next_version",
    "predict_request",
    "read_report",
    "rest_body",
    "rest_predict",
    "verify_saved_model",
]
