"""Export for TensorFlow Serving and for the edge (TFLite).

``fgkeras.export(model, "saved_models/NAME", class_names=names)`` (this
package's `export`) writes ``saved_models/NAME/<version>/``, a SavedModel TF
Serving loads as is: image bytes in, class probabilities and top-k names
out, preprocessing in the graph, augmentation off; with ``gallery=`` a
``nearest`` signature ranks the classes of a labelled gallery embedded in the
SavedModel (new classes without training). See docs/serving.md.

Modules, one purpose each: `savedmodel` (the `export` function), `signatures`
(what each signature computes), `preprocess` (decode and resize in the graph),
`gallery` (labelled embeddings for ``nearest``), `versions` (atomic integer
versions), `warmup` (TF Serving warmup records),
`requests` (REST and gRPC request formats), `tflite` (conversion and parity),
`verify` (fresh-process check), `samples` (sample images).

>>> import fgkeras
>>> fgkeras.export is export
True
"""

from fgkeras.serving.gallery import Gallery, build_gallery
from fgkeras.serving.requests import grpc_predict, predict_request, rest_body, rest_predict
from fgkeras.serving.savedmodel import export, read_report
from fgkeras.serving.signatures import GALLERY_SIGNATURE_NAMES, SIGNATURE_NAMES, ServingFunctions
from fgkeras.serving.verify import verify_saved_model
from fgkeras.serving.versions import next_version

__all__ = [
    "GALLERY_SIGNATURE_NAMES",
    "SIGNATURE_NAMES",
    "Gallery",
    "build_gallery",
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
