"""`zero_shot_attributes`: Attribute Label Embedding (ALE), recognition of unseen classes.

The image's pooled embedding θ(x) is scored against each class's attribute
vector φ(y) by the bilinear compatibility ``F(x, y) = θ(x)ᵀ W φ(y)``
(`fgkeras.layers.AttributeCompatibility`, the "predictions" layer), trained
with softmax cross-entropy over the seen classes. Classes never seen in
training are recognised from their attribute vectors alone:
`with_class_attributes` swaps the class table of a trained model (same ``W``).

Akata, Perronnin, Harchaoui and Schmid, "Label-Embedding for Image
Classification", TPAMI 2016 (https://arxiv.org/abs/1503.08677). The paper
trains with a ranking loss (WSABIE-style); the softmax over seen classes used
here is the "cross-entropy" variant that Xian et al., "Zero-Shot Learning —
A Comprehensive Evaluation of the Good, the Bad and the Ugly", TPAMI 2018
(https://arxiv.org/abs/1707.00600), found as strong, and the one the zoo's
training path already has.

>>> import numpy as np
>>> model = build_zero_shot_attributes(3, backbone="tiny", weights=None,
...                                    input_shape=(32, 32, 3), class_attributes=np.eye(3, 5))
>>> unseen = with_class_attributes(model, np.eye(4, 5)[::-1])
>>> model.output_shape, unseen.output_shape
((None, 3), (None, 4))
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from fgkeras.layers.label_embedding import AttributeCompatibility
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes
from fgkeras.models.registry import register_model

AKATA_2016 = "Label-Embedding for Image Classification"


def build_zero_shot_attributes(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(224, 224, 3),
    class_attributes=None,
    class_embedding_dim: int = 64,
    normalize_attributes: bool = True,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "zero_shot_attributes",
) -> keras.Model:
    """Backbone, global average pooling, and class logits by attribute compatibility.

    Args:
        num_classes: number of (seen) classes. Defaults to 200.
        backbone: a name from `fgkeras.models.backbones.list_backbones()`.
            Defaults to "resnet50".
        weights: "imagenet", None, a weights file or a run directory.
            Defaults to "imagenet".
        input_shape: (height, width, 3). Defaults to (224, 224, 3).
        class_attributes: ``[num_classes, A]`` attribute vector of each
            class (`fgkeras.train` reads it from the source's
            ``source_info["class_attributes"]``); None learns the class
            vectors instead (no zero-shot recognition then). Defaults to None.
        class_embedding_dim: size of the learned class vectors without a
            table. Defaults to 64.
        normalize_attributes: L2-normalise each class vector. Defaults to True.
        dropout: dropout on the embedding. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "zero_shot_attributes".
    """
    check_num_classes(num_classes)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    pooled = layers.GlobalAveragePooling2D(name="pooler")(feature_map)
    x = layers.Dropout(dropout, name="head_dropout")(pooled)
    logits = AttributeCompatibility(
        num_classes,
        class_attributes=class_attributes,
        embedding_dim=class_embedding_dim,
        normalize=normalize_attributes,
        name="predictions",
        dtype="float32",
    )(x)
    return keras.Model(inputs, logits, name=name)


def with_class_attributes(model: keras.Model, class_attributes, name=None) -> keras.Model:
    """The same trained model scoring another set of classes, given their attribute vectors.

    Args:
        model: a `zero_shot_attributes` model (its "predictions" layer is an
            `AttributeCompatibility` built with a class table).
        class_attributes: ``[K, A]`` attribute vectors of the K classes to
            recognise (unseen, or seen and unseen together for generalized
            zero-shot), with the training table's A attributes.
        name: the new model's name. Defaults to ``<model name>_k<K>``.

    Returns:
        A functional model on the same layers (shared weights, the learned
        ``W`` copied) whose output is ``[batch, K]`` logits.
    """
    head = model.get_layer("predictions")
    if not isinstance(head, AttributeCompatibility):
        raise ValueError(
            f"Model {model.name!r} does not score classes by attributes: its 'predictions' "
            f"layer is a {type(head).__name__}. Zero-shot recognition needs a "
            "zero_shot_attributes model."
        )
    if head.class_attributes is None:
        raise ValueError(
            f"Model {model.name!r} learned its class vectors (it was built without "
            "class_attributes), so there is no attribute space to place new classes in. "
            "Train it on a source with class attributes (source_info['class_attributes'])."
        )
    table = np.asarray(class_attributes, np.float32)
    if table.ndim != 2 or table.shape[1] != head.attribute_dim:
        raise ValueError(
            f"class_attributes must be [K, {head.attribute_dim}] (the {head.attribute_dim} "
            f"attributes the model was trained with). Received shape {table.shape}"
        )
    new_head = AttributeCompatibility(
        len(table), class_attributes=table, normalize=head.normalize, name="predictions",
        dtype="float32",
    )  # fmt: skip
    outputs = new_head(head.input)
    new_head.kernel.assign(head.kernel)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, outputs, name=name or f"{model.name}_k{len(table)}")


@register_model(
    family="multimodal",
    paper=AKATA_2016,
    year=2016,
    url="https://arxiv.org/abs/1503.08677",
    tags=("attributes", "zero-shot", "label-embedding", "multimodal"),
    capabilities=("classify", "embed", "grad_cam", "mixing", "zero_shot"),
)
def zero_shot_attributes(**kwargs):
    """ALE: class logits θ(x)ᵀWφ(y) from class attribute vectors; recognises unseen classes."""
    return build_zero_shot_attributes(
        **{"backbone": "resnet50", "name": "zero_shot_attributes", **kwargs}
    )
