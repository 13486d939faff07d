"""`attribute_guided`: the photo plus a side vector known at inference time.

The metadata setting: besides the image, the user knows part of what a
classifier would like to know, e.g. some attributes an annotator ticked,
the region or month of the photo, the production line of a product. The
model takes the image and that vector (input "attributes", NaN where an
entry is unknown) and fuses them:

- ``fusion="film"`` (default): the encoded side vector scales and shifts
  every channel of the backbone's feature map before pooling (FiLM, Perez et
  al., AAAI 2018), so it can steer *which* image features count;
- ``fusion="late"``: the encoded side vector is concatenated to the pooled
  image features before the classifier (the plain metadata baseline).

``side_attributes`` says which entries the model reads (e.g. only the crown
colours of the synthetic birds: a family-level hint, not the answer), and
``side_dropout`` hides the whole vector from a share of the training
images so that the model also works, like an image-only model, when nothing
is known. Called on images alone the model takes the side vector as unknown.

Related: Tang et al., "Improving Image Classification with Location Context",
ICCV 2015 (https://arxiv.org/abs/1505.03873); Chu et al., "Geo-Aware Networks
for Fine-Grained Recognition", ICCV Workshops 2019
(https://arxiv.org/abs/1906.01737); the survey the zoo follows (Wei et al.,
TPAMI 2021, §3.3, https://arxiv.org/abs/2111.06119).
"""

from __future__ import annotations

import fnmatch

import keras
from keras import layers

from fgkeras.layers.side_input import FeatureModulation, SideVector
from fgkeras.models.attributes import resolve_num_attributes
from fgkeras.models.common import backbone_feature_map, model_input, with_side_inputs
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.registry import register_model

SIDE_INPUT = "attributes"
FUSIONS = ("film", "late")


@keras.saving.register_keras_serializable(package="fgkeras")
class AttributeGuidedModel(keras.Model):
    """The `attribute_guided` network: inputs "image" and "attributes" (NaN = unknown).

    Images alone are accepted too (``model(images)``, ``model.predict(images)``):
    the side vector is then unknown. Built by `build_attribute_guided`.

    Args:
        attribute_names: names of the side vector's entries, or None.
            Defaults to None.
        *args, **kwargs: the functional ``inputs``, ``outputs``, ``name``.
    """

    def __init__(self, *args, attribute_names=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Images alone are valid input (see `call`), so no fixed two-input spec.
        self.input_spec = None
        self.attribute_names = None if attribute_names is None else list(attribute_names)

    @property
    def side_columns(self):
        """Indices of the side vector's entries the model reads (None: all)."""
        return self.get_layer("side_vector").columns

    def call(self, inputs, training=None, mask=None):
        return super().call(with_side_inputs(self, inputs), training=training, mask=mask)

    def with_outputs(self, outputs):
        """The same model class and inputs with other ``outputs`` (e.g. a new head)."""
        return type(self)(
            self.inputs, outputs, name=self.name, attribute_names=self.attribute_names
        )

    def get_config(self):
        return {**super().get_config(), "attribute_names": self.attribute_names}


def side_columns(side_attributes, attribute_names, num_attributes) -> list | None:
    """Indices of the entries named by ``side_attributes`` (names, fnmatch
    patterns or indices); None for all.

    >>> names = ["has_crown::red", "has_crown::blue", "has_wing::red"]
    >>> side_columns(["has_crown::*"], names, 3), side_columns([2], None, 3)
    ([0, 1], [2])
    """
    if side_attributes is None:
        return None
    wanted = [side_attributes] if isinstance(side_attributes, str) else list(side_attributes)
    columns = []
    for item in wanted:
        if isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item < num_attributes:
                raise ValueError(
                    f"side_attributes index {item} is outside the {num_attributes} attributes."
                )
            found = [item]
        elif attribute_names is None:
            raise ValueError(
                f"side_attributes names an attribute ({item!r}) but no attribute_names were "
                "given; pass attribute_names or indices."
            )
        else:
            found = [i for i, name in enumerate(attribute_names) if fnmatch.fnmatch(name, item)]
            if not found:
                raise ValueError(
                    f"side_attributes {item!r} matches no attribute; some names: "
                    f"{list(attribute_names)[:6]}"
                )
        columns += [i for i in found if i not in columns]
    return columns


def build_attribute_guided(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(224, 224, 3),
    num_attributes: int | None = None,
    attribute_names=None,
    side_attributes=None,
    fusion: str = "film",
    side_units: int = 64,
    side_dropout: float = 0.3,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "attribute_guided",
) -> keras.Model:
    """Backbone and a side-vector encoder, fused by FiLM or late concatenation.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: a name from `fgkeras.models.backbones.list_backbones()`.
            Defaults to "resnet50".
        weights: "imagenet", None, a weights file or a run directory.
            Defaults to "imagenet".
        input_shape: (height, width, 3). Defaults to (224, 224, 3).
        num_attributes: A, the width of the "attributes" input; None takes
            ``len(attribute_names)``, else 312 (CUB-200-2011's). Defaults to None.
        attribute_names: the entries' names (`fgkeras.train` passes the
            source's). Defaults to None.
        side_attributes: which entries the model reads: names, fnmatch
            patterns (``"has_crown_color::*"``) or indices; None reads all.
            Defaults to None.
        fusion: "film" (modulate the feature map) or "late" (concatenate to
            the pooled features). Defaults to "film".
        side_units: size of the encoded side vector. Defaults to 64.
        side_dropout: share of training images whose side vector is hidden.
            Defaults to 0.3.
        dropout: dropout before the class head. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "attribute_guided".

    >>> model = build_attribute_guided(4, backbone="tiny", weights=None,
    ...                                input_shape=(32, 32, 3), num_attributes=6)
    >>> [tuple(t.shape) for t in model.inputs], model.output_shape
    ([(None, 32, 32, 3), (None, 6)], (None, 4))
    """
    check_num_classes(num_classes)
    num_attributes = resolve_num_attributes(num_attributes, attribute_names)
    if fusion not in FUSIONS:
        raise ValueError(f"`fusion` must be one of {FUSIONS}. Received: fusion={fusion!r}")
    columns = side_columns(side_attributes, attribute_names, num_attributes)
    image = model_input(input_shape)
    side = keras.Input((num_attributes,), name=SIDE_INPUT)
    feature_map = backbone_feature_map(image, backbone, weights, freeze_backbone)
    side_vector = SideVector(columns=columns, drop_rate=side_dropout, name="side_vector")(side)
    side_code = layers.Dense(side_units, activation="relu", name="side_encoder")(side_vector)
    if fusion == "film":
        modulated = FeatureModulation(name="feature_modulation")([feature_map, side_code])
        embedding = layers.GlobalAveragePooling2D(name="pooler")(modulated)
    else:
        pooled = layers.GlobalAveragePooling2D(name="image_pooling")(feature_map)
        embedding = layers.Concatenate(name="pooler")([pooled, side_code])
    logits = classification_head(embedding, num_classes, dropout)
    return AttributeGuidedModel([image, side], logits, name=name, attribute_names=attribute_names)


@register_model(
    family="multimodal",
    paper="FiLM: Visual Reasoning with a General Conditioning Layer (side-vector fusion)",
    year=2018,
    url="https://arxiv.org/abs/1709.07871",
    tags=("attributes", "metadata", "side-information", "multimodal", "film"),
    features=("image", "attributes"),
    capabilities=("classify", "embed", "grad_cam", "side_input"),
)
def attribute_guided(**kwargs):
    """Image + a side vector known at inference (attributes, metadata), fused by FiLM."""
    return build_attribute_guided(**{"backbone": "resnet50", "name": "attribute_guided", **kwargs})
