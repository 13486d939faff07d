"""Two-stage frameworks (§3.1.1): localize the object, then classify the zoomed crop.

`two_stage` follows the object-level attention of OPAM (Peng, He and Zhao,
"Object-Part Attention Model for Fine-grained Image Classification", IEEE
TIP 2018, https://arxiv.org/abs/1704.01740): stage one is a classifier whose
class activation map (CAM; Zhou et al., CVPR 2016,
https://arxiv.org/abs/1512.04150) of the top class localizes the object
without boxes; the box around CAM ≥ θ·max is cropped and zoomed to the input
size; stage two classifies the crop; the two views' logits are averaged.

The box is chosen without gradient, so stage two cannot train stage one:
the averaged logits give each stage its own gradient, and `TwoStage`'s
`train_step` adds each view's own cross-entropy (weight
``view_loss_weight``), which is how OPAM trains its image-level and
object-level classifiers (there in sequence; here jointly, in one step).
"""

import keras
from keras import layers

from fgkeras.layers import AttentionGuidedCrop, ClassActivationMap
from fgkeras.models.attention import shared_backbone
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.multi_pass import MultiPassModel
from fgkeras.models.registry import register_model


@keras.saving.register_keras_serializable(package="fgkeras")
class TwoStage(MultiPassModel):
    """Two-view model trained on the combined and on each view's logits.

    loss = CE(combined) + view_loss_weight · (CE(object view) + CE(crop view)),
    where "object view" is stage one's CAM classifier on the whole image
    ("object_logits") and "crop view" is stage two on the crop
    ("predictions"). Inference is the graph itself (the crop is in it).
    https://arxiv.org/abs/1704.01740

    Args:
        view_loss_weight: weight of the per-view losses. Defaults to 1.0.
        *args, **kwargs: the functional ``inputs``, ``outputs``, ``name``.

    >>> model = build_two_stage(3, backbone="tiny", weights=None, input_shape=(32, 32, 3))
    >>> model.view_loss_weight
    1.0
    """

    INTERMEDIATES = ("object_logits", "predictions")
    LOSS_TERMS = ("object_loss", "crop_loss")

    def __init__(self, *args, view_loss_weight=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        if not view_loss_weight >= 0:
            raise ValueError(
                f"`view_loss_weight` must be >= 0. Received: view_loss_weight={view_loss_weight}"
            )
        self.view_loss_weight = float(view_loss_weight)

    def train_losses(self, x, y, sample_weight, loss_fn):
        out = self.run(x, training=True)
        terms = {
            name: loss_fn(out[key])
            for name, key in (
                ("combined", "logits"),
                ("object_loss", "object_logits"),
                ("crop_loss", "predictions"),
            )
        }
        views = terms["object_loss"] + terms["crop_loss"]
        terms["loss"] = terms.pop("combined") + self.view_loss_weight * views
        return terms, out["logits"]

    def get_config(self):
        return {**super().get_config(), "view_loss_weight": self.view_loss_weight}


def build_two_stage(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(448, 448, 3),
    crop_threshold: float = 0.3,
    crop_padding: float = 0.05,
    view_loss_weight: float = 1.0,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "two_stage",
) -> TwoStage:
    """Build the CAM-localize, crop, classify-again two-stage model.

    Peng et al., "Object-Part Attention Model", https://arxiv.org/abs/1704.01740
    (object-level attention), with CAM localization (Zhou et al.,
    https://arxiv.org/abs/1512.04150). One backbone serves both stages.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "resnet50".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        crop_threshold: θ; the crop boxes the CAM ≥ θ·max. Defaults to 0.3.
        crop_padding: margin around the box, a fraction of the image.
            Defaults to 0.05.
        view_loss_weight: weight of the per-view losses in `fit`. Defaults to 1.0.
        dropout: dropout before the stage-two classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "two_stage".

    >>> model = build_two_stage(4, backbone="tiny", weights=None, input_shape=(32, 32, 3))
    >>> model.get_layer("attention_maps").output.shape
    (None, 8, 8, 1)
    """
    check_num_classes(num_classes)
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    class_maps = layers.Conv2D(num_classes, 1, name="class_activation_maps", dtype="float32")(
        feature_map
    )
    object_logits = layers.GlobalAveragePooling2D(name="object_logits")(class_maps)
    cam = ClassActivationMap(name="attention_maps")(class_maps)
    crops = AttentionGuidedCrop(
        tuple(input_shape[:2]), threshold=crop_threshold, padding=crop_padding, name="object_crop"
    )([inputs, cam])
    crop_map = shared_backbone(inputs, feature_map)(crops)
    pooled = layers.GlobalAveragePooling2D(name="pooler")(crop_map)
    crop_logits = classification_head(pooled, num_classes, dropout)
    logits = layers.Average(name="combined_logits", dtype="float32")([object_logits, crop_logits])
    return TwoStage(inputs, logits, name=name, view_loss_weight=view_loss_weight)


@register_model(
    family="two_stage",
    paper="Object-Part Attention Model for Fine-grained Image Classification",
    year=2018,
    url="https://arxiv.org/abs/1704.01740",
    tags=("two-stage", "localization", "cam", "attention"),
    data_config={"input_size": (448, 448), "resize_size": 512},
    capabilities=("classify", "embed", "grad_cam", "attention_maps", "multi_pass"),
)
def two_stage(**kwargs):
    """Stage one localizes by CAM, stage two classifies the zoomed crop; logits averaged."""
    return build_two_stage(**{"backbone": "resnet50", "name": "two_stage", **kwargs})
