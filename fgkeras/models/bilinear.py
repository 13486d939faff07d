"""End-to-end second-order models: B-CNN, compact bilinear, iSQRT-COV (§3.1.2).

All three replace global average pooling by a pooling of pairwise feature
interactions and train end to end on image labels alone.
"""

import keras

from fgkeras.layers import (
    BilinearPooling,
    CompactBilinearPooling,
    ISqrtCovPooling,
    SignedSqrtL2Normalization,
)
from fgkeras.models.common import backbone_feature_map, channel_reduction, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.registry import register_model

FGVC_DATA_CONFIG = {"input_size": (448, 448), "resize_size": 512}


def _streams(inputs, backbone, backbone_b, weights, weights_b, freeze_backbone, channels):
    """Feature maps of the one or two streams, each optionally reduced."""
    stream_a = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    stream_a = channel_reduction(stream_a, channels)
    if backbone_b is None:
        return stream_a
    stream_b = backbone_feature_map(inputs, backbone_b, weights_b, freeze_backbone, stream="b")
    return [stream_a, channel_reduction(stream_b, channels, name="channel_reduction_b")]


def build_bcnn(
    num_classes: int = 200,
    backbone: str = "vgg16",
    weights="imagenet",
    input_shape=(448, 448, 3),
    backbone_b: str | None = None,
    weights_b="imagenet",
    reduce_channels: int | None = None,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "bcnn",
) -> keras.Model:
    """Bilinear CNN: outer-product pooling, signed sqrt, L2, linear classifier.

    Lin, RoyChowdhury and Maji, "Bilinear CNN Models for Fine-grained Visual
    Recognition", ICCV 2015 (https://arxiv.org/abs/1504.07889). With VGG16
    at 448×448 the descriptor has 512·512 = 262,144 dimensions. The paper's
    recipe trains the classifier on a frozen backbone first
    (``freeze_backbone=True``), then fine-tunes everything.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone of stream A. Defaults to "vgg16".
        weights: weights of stream A: "imagenet", None or a file. Defaults to
            "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        backbone_b: backbone of a second stream (asymmetric B-CNN), or None
            for the symmetric form. Defaults to None.
        weights_b: weights of stream B. Defaults to "imagenet".
        reduce_channels: 1×1 convolution to this many channels before
            pooling (None: keep). Defaults to None.
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with backbones not trainable. Defaults to False.
        name: model name. Defaults to "bcnn".

    >>> model = build_bcnn(5, backbone="tiny", weights=None, input_shape=(28, 28, 3))
    >>> model.get_layer("pooler").output.shape
    (None, 16384)
    """
    check_num_classes(num_classes)
    inputs = model_input(input_shape)
    streams = _streams(
        inputs, backbone, backbone_b, weights, weights_b, freeze_backbone, reduce_channels
    )
    pooled = BilinearPooling(name="bilinear_pooling")(streams)
    pooled = SignedSqrtL2Normalization(name="pooler")(pooled)
    logits = classification_head(pooled, num_classes, dropout)
    return keras.Model(inputs, logits, name=name)


def build_cbp(
    num_classes: int = 200,
    backbone: str = "vgg16",
    weights="imagenet",
    input_shape=(448, 448, 3),
    output_dim: int = 8192,
    projection: str = "tensor_sketch",
    reduce_channels: int | None = None,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    seed: int = 0,
    name: str = "cbp",
) -> keras.Model:
    """Compact bilinear pooling: B-CNN accuracy with an 8192-d descriptor.

    Gao, Beijbom, Zhang and Darrell, "Compact Bilinear Pooling", CVPR 2016
    (https://arxiv.org/abs/1511.06062).

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "vgg16".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        output_dim: descriptor dimension d. Defaults to 8192.
        projection: "tensor_sketch" (FFT) or "random_maclaurin" (TFLite
            friendly). Defaults to "tensor_sketch".
        reduce_channels: 1×1 convolution to this many channels before
            pooling (None: keep). Defaults to None.
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        seed: seed of the fixed random projection. Defaults to 0.
        name: model name. Defaults to "cbp".

    >>> model = build_cbp(5, backbone="tiny", weights=None, input_shape=(28, 28, 3),
    ...                   output_dim=512)
    >>> model.get_layer("pooler").output.shape
    (None, 512)
    """
    check_num_classes(num_classes)
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    feature_map = channel_reduction(feature_map, reduce_channels)
    pooled = CompactBilinearPooling(
        output_dim=output_dim, projection=projection, seed=seed, name="compact_bilinear_pooling"
    )(feature_map)
    pooled = SignedSqrtL2Normalization(name="pooler")(pooled)
    logits = classification_head(pooled, num_classes, dropout)
    return keras.Model(inputs, logits, name=name)


def build_isqrt_cov(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(448, 448, 3),
    reduce_channels: int | None = 256,
    iterations: int = 5,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "isqrt_cov",
) -> keras.Model:
    """Covariance pooling normalized by a Newton–Schulz matrix square root.

    Li, Xie, Wang and Gao, "Towards Faster Training of Global Covariance
    Pooling Networks by Iterative Matrix Square Root Normalization", CVPR 2018
    (https://arxiv.org/abs/1712.01034). The paper reduces ResNet-50's 2048
    channels to 256 by a 1×1 convolution, giving a 32,896-d descriptor.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "resnet50".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        reduce_channels: 1×1 convolution to this many channels (None: keep).
            Defaults to 256.
        iterations: Newton–Schulz iterations. Defaults to 5.
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "isqrt_cov".

    >>> model = build_isqrt_cov(5, backbone="tiny", weights=None,
    ...                         input_shape=(28, 28, 3), reduce_channels=16)
    >>> model.get_layer("pooler").output.shape
    (None, 136)
    """
    check_num_classes(num_classes)
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    feature_map = channel_reduction(feature_map, reduce_channels)
    pooled = ISqrtCovPooling(iterations=iterations, name="pooler")(feature_map)
    logits = classification_head(pooled, num_classes, dropout)
    return keras.Model(inputs, logits, name=name)


@register_model(
    family="bilinear",
    paper="Bilinear CNN Models for Fine-grained Visual Recognition",
    year=2015,
    url="https://arxiv.org/abs/1504.07889",
    tags=("end-to-end", "second-order"),
    data_config=FGVC_DATA_CONFIG,
    # B-CNN [D,D] with fine-tuning, as the authors' code README reports (configs/*_bcnn_vgg16).
    paper_results={"CUB-200-2011": 0.840, "FGVC-Aircraft": 0.841, "Stanford Cars": 0.906},
)
def bcnn(**kwargs):
    """Bilinear CNN (symmetric VGG16 by default; optional second backbone)."""
    return build_bcnn(**{"backbone": "vgg16", "name": "bcnn", **kwargs})


@register_model(
    family="bilinear",
    paper="Compact Bilinear Pooling",
    year=2016,
    url="https://arxiv.org/abs/1511.06062",
    tags=("end-to-end", "second-order", "compact"),
    data_config=FGVC_DATA_CONFIG,
    # Tensor Sketch, d = 8192, VGG16, fine-tuned (configs/cub200_cbp_vgg16.yaml).
    paper_results={"CUB-200-2011": 0.840},
)
def cbp(**kwargs):
    """Compact bilinear pooling (Tensor Sketch or Random Maclaurin, 8192-d)."""
    return build_cbp(**{"backbone": "vgg16", "name": "cbp", **kwargs})


@register_model(
    family="bilinear",
    paper="Towards Faster Training of Global Covariance Pooling Networks by "
    "Iterative Matrix Square Root Normalization",
    year=2018,
    url="https://arxiv.org/abs/1712.01034",
    tags=("end-to-end", "second-order", "matrix-normalized"),
    data_config=FGVC_DATA_CONFIG,
    # ResNet-50, 32k-d, 448 px (configs/*_isqrt_cov_resnet50.yaml).
    paper_results={"CUB-200-2011": 0.881, "FGVC-Aircraft": 0.900, "Stanford Cars": 0.928},
)
def isqrt_cov(**kwargs):
    """iSQRT-COV: covariance pooling with Newton–Schulz square-root normalization."""
    return build_isqrt_cov(**{"backbone": "resnet50", "name": "isqrt_cov", **kwargs})
