"""Models of the zoo: the registry, backbones, the shared head and one file per family.

Importing this package registers every model family (``import fgkeras``
does it). `registry` is a leaf: families import it and register into it;
it never imports them.
"""

from fgkeras.models import (
    attention,
    attribute_guided,
    attributes,
    bilinear,
    cnn,
    hierarchical,
    image_text,
    ma_cnn,
    ra_cnn,
    recurrent,
    recurrent_glimpse,
    tree_lstm,
    two_stage,
    ws_dan,
    zero_shot,
)
from fgkeras.models.backbones import list_backbones
from fgkeras.models.registry import build, list_models, model_card, register_model

__all__ = [
    "attention",
    "attribute_guided",
    "attributes",
    "bilinear",
    "build",
    "cnn",
    "hierarchical",
    "image_text",
    "list_backbones",
    "list_models",
    "ma_cnn",
    "model_card",
    "ra_cnn",
    "recurrent",
    "recurrent_glimpse",
    "register_model",
    "tree_lstm",
    "two_stage",
    "ws_dan",
    "zero_shot",
]
