"""RA-CNN: recurrent attention CNN, zooming in from scale to scale (§3.1.3).

Fu, Zheng and Mei, "Look Closer to See Better: Recurrent Attention
Convolutional Neural Network for Fine-grained Image Recognition", CVPR 2017
(https://openaccess.thecvf.com/content_cvpr_2017/html/Fu_Look_Closer_to_CVPR_2017_paper.html).

At each scale s a classification sub-network (its own backbone, as in the
paper, or one shared backbone) gives logits; an attention proposal network
(APN: two fully connected layers on the scale's feature map) predicts a
square (center, half side); a boxcar mask (differentiable in the square)
times the image is cropped and zoomed to the input size for scale s + 1.

Training (`RACNN.train_step`): the classification loss Σ_s CE(scale s) +
CE(combined) trains the classification sub-networks and the fusion; the
inter-scale ranking loss Σ_s max(0, p_t^(s) − p_t^(s+1) + margin), p_t the
probability of the true class, trains the APNs ("look closer to see
better"). With ``alternate_every=N`` they take turns every N steps, as the
paper alternates them; with 0 both train at every step.

Output: the mean of the fused classifier's logits (on the concatenated
per-scale descriptors, "pooler" → "predictions") and the per-scale logits,
so every weight of the network reaches the output.
"""

import keras
from keras import layers, ops

from fgkeras.checks import check_int
from fgkeras.layers import AttentionCropZoom, BoxcarMask
from fgkeras.models.attention import shared_backbone
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.multi_pass import (
    MultiPassModel,
    alternation_gates,
    check_alternate_every,
    replica_scaled,
)
from fgkeras.models.registry import register_model

RA_CNN_URL = (
    "https://openaccess.thecvf.com/content_cvpr_2017/html/Fu_Look_Closer_to_CVPR_2017_paper.html"
)


def ranking_loss(scale_logits, labels, margin=0.05):
    """Inter-scale pairwise ranking loss: Σ_s mean_b max(0, p_t^s − p_t^(s+1) + margin).

    Args:
        scale_logits: list of (batch, classes) logits, coarse to fine.
        labels: (batch,) integer labels.
        margin: required gain in true-class probability per scale.
            Defaults to 0.05.

    >>> import numpy as np
    >>> coarse = np.log(np.array([[0.6, 0.4]], "float32"))
    >>> fine = np.log(np.array([[0.5, 0.5]], "float32"))
    >>> round(float(ranking_loss([coarse, fine], np.array([0]))), 4)  # 0.6 - 0.5 + 0.05
    0.15
    """
    labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
    true_probs = []
    for logits in scale_logits:
        probs = ops.softmax(ops.cast(logits, "float32"), axis=-1)
        true_probs.append(ops.take_along_axis(probs, labels[:, None], axis=-1)[:, 0])
    total = 0.0
    for coarse, fine in zip(true_probs[:-1], true_probs[1:]):
        total = total + ops.mean(ops.relu(coarse - fine + margin))
    return total


@keras.saving.register_keras_serializable(package="fgkeras")
class RACNN(MultiPassModel):
    """RA-CNN with its classification/ranking (optionally alternating) `train_step`.

    Built by `build_ra_cnn`; see the module docstring. APN weights are
    those of layers named "apn*".
    https://openaccess.thecvf.com/content_cvpr_2017/html/Fu_Look_Closer_to_CVPR_2017_paper.html

    Args:
        rank_margin: margin of the ranking loss. Defaults to 0.05.
        alternate_every: steps per phase of the alternation (0: train both
            at every step). In the phase where a group is fixed it gets a
            zero gradient, so optimizers with momentum still move it a
            little; the paper uses plain SGD. Defaults to 0.
        *args, **kwargs: the functional ``inputs``, ``outputs``, ``name``.

    >>> model = build_ra_cnn(3, backbone="tiny", weights=None, input_shape=(32, 32, 3),
    ...                      num_scales=2, apn_units=8)
    >>> model.scale_names()
    ['scale1_predictions', 'scale2_predictions']
    """

    LOSS_TERMS = ("classification_loss", "rank_loss")

    def __init__(self, *args, rank_margin=0.05, alternate_every=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.rank_margin = float(rank_margin)
        self.alternate_every = check_alternate_every(alternate_every)

    def intermediate_names(self):
        return self.scale_names()

    def scale_names(self):
        """Names of the per-scale classifier layers, coarse to fine."""
        names = [layer.name for layer in self.layers if layer.name.startswith("scale")]
        return sorted(name for name in names if name.endswith("_predictions"))

    def apn_weights(self):
        """Trainable weights of the attention proposal networks."""
        return [
            weight
            for layer in self.layers
            if layer.name.startswith("apn")
            for weight in layer.trainable_weights
        ]

    def train_losses(self, x, y, sample_weight, loss_fn):
        out = self.run(x, training=True)
        scale_logits = [out[name] for name in self.scale_names()]
        classification = sum(loss_fn(logits) for logits in [out["logits"], *scale_logits])
        rank = replica_scaled(ranking_loss(scale_logits, y, self.rank_margin))
        terms = {"classification_loss": classification, "rank_loss": rank}
        terms["loss"] = classification + rank
        return terms, out["logits"]

    def trainable_groups(self, terms, step):
        apn = self.apn_weights()
        apn_ids = {id(weight) for weight in apn}
        others = [weight for weight in self.trainable_weights if id(weight) not in apn_ids]
        classification_on, rank_on = alternation_gates(step, self.alternate_every)
        return [
            (terms["classification_loss"] * classification_on, others),
            (terms["rank_loss"] * rank_on, apn),
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "rank_margin": self.rank_margin,
            "alternate_every": self.alternate_every,
        }


def _attention_proposal(feature_map, scale, apn_channels, apn_units, min_half):
    """APN: 1×1 reduction, two FC layers → (center_y, center_x, half side)."""
    x = layers.Conv2D(apn_channels, 1, activation="relu", name=f"apn{scale}_reduce")(feature_map)
    x = layers.Flatten(name=f"apn{scale}_flatten")(x)
    x = layers.Dense(apn_units, activation="tanh", name=f"apn{scale}_hidden")(x)
    center = layers.Dense(2, activation="sigmoid", name=f"apn{scale}_center")(x)
    half = layers.Dense(1, activation="sigmoid", name=f"apn{scale}_size")(x)
    half = layers.Rescaling(0.5 - min_half, offset=min_half, name=f"apn{scale}_half")(half)
    return layers.Concatenate(name=f"apn{scale}_box")([center, half])


def build_ra_cnn(
    num_classes: int = 200,
    backbone: str = "vgg19",
    weights="imagenet",
    input_shape=(448, 448, 3),
    num_scales: int = 3,
    share_backbone: bool = False,
    apn_channels: int = 16,
    apn_units: int = 1024,
    min_crop_fraction: float = 1 / 3,
    sharpness: float = 10.0,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "ra_cnn",
    **training_kwargs,
) -> RACNN:
    """Build RA-CNN: per-scale classifiers, APNs, boxcar crop-and-zoom, fusion.

    Fu et al., "Look Closer to See Better", CVPR 2017 (see the module
    docstring). The paper's APN flattens VGG's full 512-channel conv5 map;
    here a 1×1 convolution first reduces it to ``apn_channels``.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "vgg19".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        num_scales: number of scales (2 or 3 in the paper). Defaults to 3.
        share_backbone: one backbone for all scales (the paper has one per
            scale). Defaults to False.
        apn_channels: channels of the APN's 1×1 reduction. Defaults to 16.
        apn_units: width of the APN's hidden layer. Defaults to 1024.
        min_crop_fraction: smallest crop side, as a fraction of the
            previous scale (1/3 in the paper). Defaults to 1/3.
        sharpness: k of the boxcar mask's sigmoids. Defaults to 10.0.
        dropout: dropout before the fused classifier. Defaults to 0.0.
        freeze_backbone: build with the backbones not trainable. Defaults to False.
        name: model name. Defaults to "ra_cnn".
        **training_kwargs: `RACNN` options (``rank_margin``, ``alternate_every``).

    >>> model = build_ra_cnn(4, backbone="tiny", weights=None, input_shape=(32, 32, 3),
    ...                      apn_units=8)
    >>> model.get_layer("scale3_zoom").output.shape
    (None, 32, 32, 3)
    """
    check_num_classes(num_classes)
    check_int("num_scales", num_scales, minimum=2)
    if not 0.0 < min_crop_fraction <= 1.0:
        raise ValueError(f"`min_crop_fraction` must be in (0, 1]. Received: {min_crop_fraction}")
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    shared = shared_backbone(inputs, feature_map) if share_backbone else None
    view, pooled, scale_logits = inputs, [], []
    for scale in range(1, num_scales + 1):
        if scale > 1:
            feature_map = (
                layers.Identity(name=f"feature_map_{scale}")(shared(view))
                if shared is not None
                else backbone_feature_map(view, backbone, weights, freeze_backbone, str(scale))
            )
        pooled.append(layers.GlobalAveragePooling2D(name=f"scale{scale}_pooling")(feature_map))
        scale_logits.append(
            layers.Dense(num_classes, name=f"scale{scale}_predictions", dtype="float32")(pooled[-1])
        )
        if scale == num_scales:
            break
        box = _attention_proposal(
            feature_map, scale, apn_channels, apn_units, min_crop_fraction / 2.0
        )
        map_name = "attention_maps" if scale == 1 else f"attention_maps_{scale}"
        mask = BoxcarMask(sharpness, name=map_name)([view, box])
        masked = layers.Multiply(name=f"scale{scale + 1}_masked")([view, mask])
        view = AttentionCropZoom(
            tuple(input_shape[:2]), sharpness, apply_mask=False, name=f"scale{scale + 1}_zoom"
        )([masked, box])
    fused = layers.Concatenate(name="pooler")(pooled)
    fused_logits = classification_head(fused, num_classes, dropout)
    logits = layers.Average(name="combined_logits", dtype="float32")([fused_logits, *scale_logits])
    return RACNN(inputs, logits, name=name, **training_kwargs)


@register_model(
    family="attention",
    paper="Look Closer to See Better: Recurrent Attention Convolutional Neural Network "
    "for Fine-grained Image Recognition",
    year=2017,
    url=RA_CNN_URL,
    tags=("attention", "multi-scale", "zoom", "ranking-loss", "multi-pass"),
    data_config={"input_size": (448, 448), "resize_size": 512},
    capabilities=("classify", "embed", "grad_cam", "attention_maps", "multi_pass"),
    # VGG-19, 3 scales (configs/*_ra_cnn_vgg19.yaml).
    paper_results={"CUB-200-2011": 0.853, "Stanford Cars": 0.925},
)
def ra_cnn(**kwargs):
    """RA-CNN: 3 scales with attention proposal zoom and inter-scale ranking loss."""
    return build_ra_cnn(**{"backbone": "vgg19", "name": "ra_cnn", **kwargs})
