"""`attribute_multitask`: one backbone, a class head and an attribute head.

The pooled embedding feeds two heads: the class logits (the main output,
"predictions") and one logit per binary attribute ("attribute_logits"; CUB's
312 ``has_<part>_<value>`` attributes, the synthetic birds' part colours).
Training adds the attributes' binary cross-entropy, each attribute's
positives and negatives balanced (`fgkeras.losses.BalancedBinaryCrossEntropy`),
to the class cross-entropy::

    L = CE(class) + λ · BCE_balanced(attributes)

Predicting what the class *looks like* (crown colour, wing pattern) is
supervision about the parts that decide the class; the attribute head also
makes a prediction explainable in words. The attribute targets are the
``attributes`` feature of the data (``fgkeras.data.load(...,
features=("attributes",))``; `fgkeras.train` asks for it from the model card).

This multi-task form is the common baseline of attribute-based fine-grained
recognition; see e.g. Liu et al., "Localizing by Describing: Attribute-Guided
Attention Localization for Fine-Grained Recognition", AAAI 2017
(https://arxiv.org/abs/1605.06217), and the survey the zoo follows (Wei et
al., "Fine-Grained Image Analysis with Deep Learning: A Survey", TPAMI 2021,
§3.3, https://arxiv.org/abs/2111.06119).
"""

from __future__ import annotations

import keras
from keras import layers

from fgkeras.layers.glimpse import Passthrough
from fgkeras.losses import BalancedBinaryCrossEntropy
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.multi_pass import MultiPassModel, replica_scaled
from fgkeras.models.registry import register_model

ATTRIBUTE_LAYER = "attribute_logits"


@keras.saving.register_keras_serializable(package="fgkeras")
class AttributeMultitaskModel(MultiPassModel):
    """The `attribute_multitask` network and its two-term loss; built by
    `build_attribute_multitask`.

    Args:
        attribute_names: names of the A attributes (reported by evaluation
            and export), or None. Defaults to None.
        attribute_rates: share of training images with each attribute, for
            the balanced loss; None weighs positives and negatives alike.
            Defaults to None.
        attribute_weight: λ, the attribute loss's weight. Defaults to 1.0.
        *args, **kwargs: the functional ``inputs``, ``outputs``, ``name``.
    """

    INTERMEDIATES = (ATTRIBUTE_LAYER,)
    LOSS_TERMS = ("class_loss", "attribute_loss")

    def __init__(self, *args, attribute_names=None, attribute_rates=None,
                 attribute_weight=1.0, **kwargs):  # fmt: skip
        super().__init__(*args, **kwargs)
        num_attributes = int(self.get_layer(ATTRIBUTE_LAYER).output.shape[-1])
        for what, values in (("attribute_names", attribute_names),
                             ("attribute_rates", attribute_rates)):  # fmt: skip
            if values is not None and len(values) != num_attributes:
                raise ValueError(
                    f"`{what}` must have one entry per attribute ({num_attributes}). "
                    f"Received {len(values)}."
                )
        if not float(attribute_weight) >= 0:
            raise ValueError(f"`attribute_weight` must be >= 0. Received: {attribute_weight!r}")
        self.attribute_names = None if attribute_names is None else list(attribute_names)
        self.attribute_rates = None if attribute_rates is None else list(attribute_rates)
        self.attribute_weight = float(attribute_weight)
        self.attribute_loss = BalancedBinaryCrossEntropy(positive_rates=self.attribute_rates)

    @property
    def num_attributes(self) -> int:
        return int(self.get_layer(ATTRIBUTE_LAYER).output.shape[-1])

    def train_losses(self, x, y, sample_weight, loss_fn):
        if not isinstance(x, dict) or "attributes" not in x:
            raise ValueError(
                "attribute_multitask trains on the images' attributes as well: batches of "
                "({'image': ..., 'attributes': ...}, labels), i.e. fgkeras.data.load(..., "
                "features=('attributes',)) (fgkeras.train does this). Received "
                f"{'a dict without attributes' if isinstance(x, dict) else 'images only'}."
            )
        out = self.run(x["image"], training=True)
        class_loss = loss_fn(out["logits"])
        targets = x["attributes"]
        attribute_loss = replica_scaled(
            self.attribute_loss(targets, out[ATTRIBUTE_LAYER], sample_weight=sample_weight)
        )
        total = class_loss + self.attribute_weight * attribute_loss
        terms = {"loss": total, "class_loss": class_loss, "attribute_loss": attribute_loss}
        return terms, out["logits"]

    def get_config(self):
        return {
            **super().get_config(),
            "attribute_names": self.attribute_names,
            "attribute_rates": self.attribute_rates,
            "attribute_weight": self.attribute_weight,
        }


def resolve_num_attributes(num_attributes, attribute_names) -> int:
    """A, the number of attributes: given, else ``len(attribute_names)``, else 312
    (CUB-200-2011's); an int >= 1 with one name per attribute when names are given.

    >>> resolve_num_attributes(None, ["has_crown::red", "has_wing::red"])
    2
    >>> resolve_num_attributes(None, None)
    312
    """
    if num_attributes is None:
        num_attributes = len(attribute_names) if attribute_names is not None else 312
    if (
        isinstance(num_attributes, bool)
        or not isinstance(num_attributes, int)
        or num_attributes < 1
    ):
        raise ValueError(f"`num_attributes` must be an int >= 1. Received: {num_attributes!r}")
    if attribute_names is not None and len(attribute_names) != num_attributes:
        raise ValueError(
            f"`attribute_names` must have one entry per attribute ({num_attributes}). "
            f"Received {len(attribute_names)}."
        )
    return num_attributes


def build_attribute_multitask(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(224, 224, 3),
    num_attributes: int | None = None,
    attribute_names=None,
    attribute_rates=None,
    attribute_weight: float = 1.0,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "attribute_multitask",
) -> keras.Model:
    """Backbone, global average pooling, a class head and an attribute head.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: a name from `fgkeras.models.backbones.list_backbones()`.
            Defaults to "resnet50".
        weights: "imagenet", None, a weights file or a run directory.
            Defaults to "imagenet".
        input_shape: (height, width, 3). Defaults to (224, 224, 3).
        num_attributes: A; None takes ``len(attribute_names)``, else 312
            (CUB-200-2011's). Defaults to None.
        attribute_names: the attributes' names (`fgkeras.train` passes the
            source's ``attribute_names``). Defaults to None.
        attribute_rates: share of training images with each attribute, for
            the balanced loss (`fgkeras.train` passes the mean of the
            source's ``class_attributes``). Defaults to None.
        attribute_weight: λ, the weight of the attribute loss. Defaults to 1.0.
        dropout: dropout before the class head. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "attribute_multitask".

    >>> model = build_attribute_multitask(5, backbone="tiny", weights=None,
    ...                                   input_shape=(32, 32, 3), num_attributes=6)
    >>> model.output_shape, model.get_layer("attribute_logits").output.shape
    ((None, 5), (None, 6))
    """
    check_num_classes(num_classes)
    num_attributes = resolve_num_attributes(num_attributes, attribute_names)
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    pooled = layers.GlobalAveragePooling2D(name="image_pooling")(feature_map)
    attribute_logits = layers.Dense(num_attributes, name=ATTRIBUTE_LAYER, dtype="float32")(pooled)
    # The embedding; the attribute head rides along so the graph keeps it by name.
    embedding = Passthrough(name="pooler")([pooled, attribute_logits])
    logits = classification_head(embedding, num_classes, dropout)
    return AttributeMultitaskModel(
        inputs,
        logits,
        name=name,
        attribute_names=attribute_names,
        attribute_rates=attribute_rates,
        attribute_weight=attribute_weight,
    )


@register_model(
    family="multimodal",
    paper="Fine-Grained Image Analysis with Deep Learning: A Survey (attribute multi-task)",
    year=2021,
    url="https://arxiv.org/abs/2111.06119",
    tags=("attributes", "multi-task", "multimodal", "multi-pass"),
    targets=("label", "attributes"),
    capabilities=("classify", "embed", "grad_cam", "multi_pass", "attribute_logits"),
)
def attribute_multitask(**kwargs):
    """Class head + attribute head on one backbone; balanced attribute BCE added to CE."""
    return build_attribute_multitask(
        **{"backbone": "resnet50", "name": "attribute_multitask", **kwargs}
    )
