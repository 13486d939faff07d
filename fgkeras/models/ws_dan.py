"""WS-DAN: attention maps that both pool part features and augment the data (§3.1.3).

Hu, Qi, Huang and Lu, "See Better Before Looking Closer: Weakly Supervised
Data Augmentation Network for Fine-Grained Visual Classification", 2019
(https://arxiv.org/abs/1901.09891), following the authors' released code.

- Forward: M attention maps A = ReLU(BN(conv1×1(F))) ("attention_maps");
  bilinear attention pooling of F by A, signed sqrt and L2 ("part_features");
  scaled by 100 ("pooler") into the shared head.
- Training (`WSDAN.train_step`): per image, one map sampled with
  probability ∝ sqrt(Σ A_k) guides an *attention crop* (box of A_k ≥ θc·max,
  θc ~ U(0.4, 0.6), zoomed to the input size) and another an *attention drop*
  (erase A_k ≥ θd·max, θd ~ U(0.2, 0.5)). The loss is the mean
  cross-entropy of the raw, crop and drop passes plus the center loss
  ‖f − c_y‖², whose class centers move as c_y ← c_y + β·mean(f − c_y).
- Inference (`WSDAN.call` with ``training=False``, hence `predict`,
  `evaluate` and exported SavedModels): crop-and-refine, the average of
  the raw logits and the logits of the crop around the mean attention map
  (θ = 0.1). No randomness fires at inference.
"""

import keras
from keras import layers, ops

from fgkeras.checks import check_int
from fgkeras.layers import BilinearAttentionPooling
from fgkeras.layers.cropping import attention_boxes, crop_and_resize, drop_mask
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.multi_pass import MultiPassModel, replica_scaled
from fgkeras.models.registry import register_model


def center_loss(features, centers, labels):
    """Mean over the batch of ‖f_i − c_{y_i}‖² (the centers get no gradient).

    Wen et al., "A Discriminative Feature Learning Approach for Deep Face
    Recognition", ECCV 2016 (https://ydwen.github.io/papers/WenECCV16.pdf).

    Args:
        features: (batch, dim) descriptors.
        centers: (num_classes, dim) class centers.
        labels: (batch,) integer labels.

    >>> import numpy as np
    >>> f = np.array([[1.0, 0.0], [0.0, 2.0]], "float32")
    >>> float(center_loss(f, np.zeros((3, 2), "float32"), np.array([0, 2])))
    2.5
    """
    labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
    targets = ops.stop_gradient(ops.take(centers, labels, axis=0))
    return ops.mean(ops.sum(ops.square(features - targets), axis=-1))


def center_update(features, centers, labels, momentum):
    """The change β·mean_{i: y_i = c}(f_i − c_c) of every class center.

    Args:
        features: (batch, dim) descriptors.
        centers: (num_classes, dim) current centers.
        labels: (batch,) integer labels.
        momentum: β. Classes absent from the batch do not move.

    >>> import numpy as np
    >>> f = np.array([[2.0], [4.0]], "float32")
    >>> np.asarray(center_update(f, np.zeros((2, 1), "float32"), np.array([1, 1]), 0.5)).tolist()
    [[0.0], [1.5]]
    """
    labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
    one_hot = ops.one_hot(labels, ops.shape(centers)[0], dtype=features.dtype)
    offsets = ops.stop_gradient(features) - ops.take(centers, labels, axis=0)
    totals = ops.matmul(ops.transpose(one_hot), offsets)
    counts = ops.maximum(ops.sum(one_hot, axis=0), 1.0)
    return momentum * totals / counts[:, None]


@keras.saving.register_keras_serializable(package="fgkeras")
class WSDAN(MultiPassModel):
    """The WS-DAN network with its crop/drop `train_step` and crop-and-refine `call`.

    Built by `build_ws_dan`; see the module docstring for the method.
    https://arxiv.org/abs/1901.09891

    Args:
        center_loss_weight: λ of the center loss. Defaults to 1.0.
        center_momentum: β of the center update. Defaults to 0.05.
        crop_threshold: (low, high) range of the random θc. Defaults to (0.4, 0.6).
        drop_threshold: (low, high) range of the random θd. Defaults to (0.2, 0.5).
        crop_padding: margin of training crops, a fraction of the image.
            Defaults to 0.1.
        refine_threshold: θ of the inference crop. Defaults to 0.1.
        refine_padding: margin of the inference crop. Defaults to 0.05.
        seed: seed of the training-time sampling. Defaults to 0.
        *args, **kwargs: the functional ``inputs``, ``outputs``, ``name``.

    >>> model = build_ws_dan(3, backbone="tiny", weights=None, input_shape=(32, 32, 3),
    ...                      num_attention_maps=4)
    >>> tuple(model.feature_centers.shape)
    (3, 512)
    """

    INTERMEDIATES = ("attention_maps", "part_features")
    LOSS_TERMS = ("center_loss",)

    def __init__(
        self,
        *args,
        center_loss_weight=1.0,
        center_momentum=0.05,
        crop_threshold=(0.4, 0.6),
        drop_threshold=(0.2, 0.5),
        crop_padding=0.1,
        refine_threshold=0.1,
        refine_padding=0.05,
        seed=0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.center_loss_weight = float(center_loss_weight)
        self.center_momentum = float(center_momentum)
        self.crop_threshold = _check_range("crop_threshold", crop_threshold)
        self.drop_threshold = _check_range("drop_threshold", drop_threshold)
        self.crop_padding = float(crop_padding)
        self.refine_threshold = float(refine_threshold)
        self.refine_padding = float(refine_padding)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        num_classes = self.outputs[0].shape[-1]
        dim = self.get_layer("part_features").output.shape[-1]
        self.feature_centers = self.add_weight(
            shape=(num_classes, dim),
            initializer="zeros",
            trainable=False,
            aggregation="mean",
            name="feature_centers",
        )

    def call(self, inputs, training=None, mask=None):
        if training:
            return super().call(inputs, training=True, mask=mask)
        images = ops.cast(inputs, "float32")
        first = self.run(images, training=False)
        boxes = attention_boxes(first["attention_maps"], self.refine_threshold, self.refine_padding)
        crops = crop_and_resize(images, boxes, self.inputs[0].shape[1:3])
        refined = self.run(crops, training=False)["logits"]
        return (first["logits"] + refined) / 2.0

    def augment(self, images, attention_maps):
        """Training-time attention crops and drops of ``images`` (random)."""
        images = ops.cast(images, "float32")
        maps = ops.stop_gradient(attention_maps)
        batch, num_maps = ops.shape(maps)[0], maps.shape[-1]
        strength = ops.sqrt(ops.sum(maps, axis=(1, 2)) + 1e-12)
        log_probs = ops.log(strength / ops.sum(strength, axis=-1, keepdims=True))
        picks = keras.random.categorical(log_probs, 2, seed=self.seed_generator)
        chosen = [
            ops.einsum("bhwm,bm->bhw", maps, ops.one_hot(picks[:, i], num_maps, dtype=maps.dtype))
            for i in (0, 1)
        ]
        theta_crop = keras.random.uniform((batch,), *self.crop_threshold, seed=self.seed_generator)
        theta_drop = keras.random.uniform((batch,), *self.drop_threshold, seed=self.seed_generator)
        boxes = attention_boxes(chosen[0], theta_crop, self.crop_padding)
        size = self.inputs[0].shape[1:3]
        crops = crop_and_resize(images, boxes, size)
        drops = images * drop_mask(chosen[1], size, theta_drop)
        return crops, drops

    def train_losses(self, x, y, sample_weight, loss_fn):
        first = self.run(x, training=True)
        crops, drops = self.augment(x, first["attention_maps"])
        logits = first["logits"]
        cross_entropy = [
            loss_fn(pred)
            for pred in (logits, self(crops, training=True), self(drops, training=True))
        ]
        features = first["part_features"]
        centers = center_loss(features, self.feature_centers, y)
        self.feature_centers.assign_add(
            center_update(features, self.feature_centers, y, self.center_momentum)
        )
        centers = replica_scaled(centers)
        total = ops.sum(ops.stack(cross_entropy)) / 3.0 + self.center_loss_weight * centers
        return {"loss": total, "center_loss": centers}, logits

    def get_config(self):
        return {
            **super().get_config(),
            "center_loss_weight": self.center_loss_weight,
            "center_momentum": self.center_momentum,
            "crop_threshold": list(self.crop_threshold),
            "drop_threshold": list(self.drop_threshold),
            "crop_padding": self.crop_padding,
            "refine_threshold": self.refine_threshold,
            "refine_padding": self.refine_padding,
            "seed": self.seed,
        }


def _check_range(name, value):
    pair = tuple(value) if isinstance(value, (list, tuple)) else ()
    if len(pair) != 2 or not 0.0 <= pair[0] <= pair[1] <= 1.0:
        raise ValueError(
            f"`{name}` must be (low, high) with 0 <= low <= high <= 1. Received: {name}={value!r}"
        )
    return tuple(float(v) for v in pair)


def build_ws_dan(
    num_classes: int = 200,
    backbone: str = "inception_v3",
    weights="imagenet",
    input_shape=(448, 448, 3),
    num_attention_maps: int = 32,
    feature_scale: float = 100.0,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "ws_dan",
    **training_kwargs,
) -> WSDAN:
    """Build WS-DAN: attention maps, bilinear attention pooling, shared head.

    Hu et al., "See Better Before Looking Closer", 2019
    (https://arxiv.org/abs/1901.09891). The paper pools Inception v3's
    Mixed_6e; here the backbone's last feature map is used. Compile with
    ``SparseCategoricalCrossentropy(from_logits=True)``; `fit` runs the
    crop/drop training and `predict` the crop-and-refine inference.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "inception_v3".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        num_attention_maps: M. Defaults to 32.
        feature_scale: factor on the L2-normalized part features before the
            classifier (100 in the authors' code). Defaults to 100.0.
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "ws_dan".
        **training_kwargs: `WSDAN` options (center loss, crop/drop thresholds,
            refine crop, seed).

    >>> model = build_ws_dan(5, backbone="tiny", weights=None, input_shape=(32, 32, 3),
    ...                      num_attention_maps=4)
    >>> model.get_layer("attention_maps").output.shape
    (None, 8, 8, 4)
    """
    check_num_classes(num_classes)
    check_int("num_attention_maps", num_attention_maps)
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    maps = layers.Conv2D(num_attention_maps, 1, use_bias=False, name="attention_conv")(feature_map)
    maps = layers.BatchNormalization(name="attention_bn")(maps)
    maps = layers.ReLU(name="attention_maps")(maps)
    parts = BilinearAttentionPooling(name="part_features")([feature_map, maps])
    pooled = layers.Rescaling(feature_scale, name="pooler")(parts)
    logits = classification_head(pooled, num_classes, dropout)
    return WSDAN(inputs, logits, name=name, **training_kwargs)


@register_model(
    family="attention",
    paper="See Better Before Looking Closer: Weakly Supervised Data Augmentation "
    "Network for Fine-Grained Visual Classification",
    year=2019,
    url="https://arxiv.org/abs/1901.09891",
    tags=("attention", "part-based", "data-augmentation", "multi-pass"),
    data_config={"input_size": (448, 448), "resize_size": 512},
    capabilities=("classify", "embed", "grad_cam", "attention_maps", "multi_pass"),
    # Inception v3, 32 attention maps (configs/*_ws_dan_inceptionv3.yaml).
    paper_results={
        "CUB-200-2011": 0.894,
        "FGVC-Aircraft": 0.930,
        "Stanford Cars": 0.945,
        "Stanford Dogs": 0.922,
    },
)
def ws_dan(**kwargs):
    """WS-DAN: attention crop/drop training, center loss, crop-and-refine inference."""
    return build_ws_dan(**{"backbone": "inception_v3", "name": "ws_dan", **kwargs})
