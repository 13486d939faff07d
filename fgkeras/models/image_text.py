"""`image_text`: a dual encoder of images and fine-grained text descriptions.

An image tower (any backbone, global pooling, a linear projection
"embedding") and a text tower (`fgkeras.layers.TextEncoder`: words, a
bidirectional GRU) map images and sentences into one space, trained with the
symmetric contrastive loss (`fgkeras.losses.symmetric_info_nce`, CLIP-style,
with a learned temperature) on (image, description) pairs, plus the class
cross-entropy of the class scores (a class-level loss in the spirit of
Reed et al.'s DS-SJE). The main output, "predictions", scores the image
against each class's descriptions (`fgkeras.layers.DescriptionScores`), so
the model classifies like every model of the zoo, and classes never seen in
training are recognised from their descriptions alone (`with_descriptions`).

Reed, Akata, Lee and Schiele, "Learning Deep Representations of
Fine-Grained Visual Descriptions", CVPR 2016 (https://arxiv.org/abs/1605.05395);
Radford et al., "Learning Transferable Visual Models From Natural Language
Supervision", ICML 2021 (https://arxiv.org/abs/2103.00020).

>>> model = build_image_text(2, backbone="tiny", weights=None, input_shape=(32, 32, 3),
...                          vocabulary=["red", "blue", "bird"],
...                          class_descriptions=[["a red bird"], ["a blue bird"]])
>>> model.output_shape, model.get_layer("embedding").output.shape
((None, 2), (None, 128))
>>> with_descriptions(model, ["a green bird", "red", "blue"]).output_shape
(None, 3)
"""

from __future__ import annotations

import keras
from keras import layers

from fgkeras.layers.text_encoder import DescriptionScores, TextEncoder, check_descriptions
from fgkeras.losses import symmetric_info_nce
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes
from fgkeras.models.multi_pass import MultiPassModel, replica_scaled
from fgkeras.models.registry import register_model

REED_2016 = "Learning Deep Representations of Fine-Grained Visual Descriptions"


@keras.saving.register_keras_serializable(package="fgkeras")
class ImageTextModel(MultiPassModel):
    """The `image_text` network and its contrastive + class loss; built by `build_image_text`.

    Args:
        class_weight: weight of the class cross-entropy next to the
            contrastive loss. Defaults to 1.0.
        mask_same_class: leave same-class pairs out of the contrastive
            softmax (see `symmetric_info_nce`). Defaults to True.
        *args, **kwargs: the functional ``inputs``, ``outputs``, ``name``.
    """

    INTERMEDIATES = ("embedding",)
    LOSS_TERMS = ("contrastive_loss", "class_loss")

    def __init__(self, *args, class_weight=1.0, mask_same_class=True, **kwargs):
        super().__init__(*args, **kwargs)
        if not float(class_weight) >= 0:
            raise ValueError(f"`class_weight` must be >= 0. Received: {class_weight!r}")
        self.class_weight = float(class_weight)
        self.mask_same_class = bool(mask_same_class)

    @property
    def scorer(self) -> DescriptionScores:
        return self.get_layer("predictions")

    @property
    def text_encoder(self) -> TextEncoder:
        return self.scorer.text_encoder

    def embed_text(self, texts, training=False):
        """Unit text embeddings ``[N, D]`` of strings, in the images' space."""
        return self.text_encoder(keras.ops.convert_to_tensor(texts), training=training)

    def train_losses(self, x, y, sample_weight, loss_fn):
        if not isinstance(x, dict) or "text" not in x:
            raise ValueError(
                "image_text trains on (image, description) pairs: batches of ({'image': ..., "
                "'text': ...}, labels), i.e. fgkeras.data.load(..., features=('text',)) "
                "(fgkeras.train does this)."
            )
        out = self.run(x["image"], training=True)
        texts = self.text_encoder(x["text"], training=True)
        labels = y if self.mask_same_class and (len(y.shape) < 2 or y.shape[-1] == 1) else None
        contrastive = replica_scaled(
            symmetric_info_nce(out["embedding"], texts, self.scorer.logit_scale, labels)
        )
        class_loss = loss_fn(out["logits"])
        total = contrastive + self.class_weight * class_loss
        terms = {"loss": total, "contrastive_loss": contrastive, "class_loss": class_loss}
        return terms, out["logits"]

    def get_config(self):
        return {
            **super().get_config(),
            "class_weight": self.class_weight,
            "mask_same_class": self.mask_same_class,
        }


def build_image_text(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(224, 224, 3),
    vocabulary=None,
    class_descriptions=None,
    embedding_dim: int = 128,
    word_dim: int = 64,
    text_units: int = 64,
    text_cell: str = "gru",
    sequence_length: int = 32,
    class_weight: float = 1.0,
    mask_same_class: bool = True,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "image_text",
) -> keras.Model:
    """Image tower + text tower in one space; class logits from class descriptions.

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: a name from `fgkeras.models.backbones.list_backbones()`.
            Defaults to "resnet50".
        weights: "imagenet", None, a weights file or a run directory.
            Defaults to "imagenet".
        input_shape: (height, width, 3). Defaults to (224, 224, 3).
        vocabulary: the text encoder's words (`fgkeras.train` builds it from
            the training descriptions); None: the class descriptions' words.
            Defaults to None.
        class_descriptions: one description (or a list) per class
            (`fgkeras.train` takes the source's ``class_descriptions``);
            None: "class 0", "class 1", ... Defaults to None.
        embedding_dim: size of the joint space. Defaults to 128.
        word_dim: size of the word embeddings. Defaults to 64.
        text_units: RNN units per direction. Defaults to 64.
        text_cell: "gru" or "lstm". Defaults to "gru".
        sequence_length: words kept per description. Defaults to 32.
        class_weight: weight of the class cross-entropy. Defaults to 1.0.
        mask_same_class: see `ImageTextModel`. Defaults to True.
        dropout: dropout on the pooled image features. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "image_text".
    """
    from fgkeras.layers.text_encoder import build_vocabulary

    check_num_classes(num_classes)
    if class_descriptions is None:
        class_descriptions = [f"class {c}" for c in range(num_classes)]
    descriptions = check_descriptions(class_descriptions)
    if len(descriptions) != num_classes:
        raise ValueError(
            f"`class_descriptions` must hold one entry per class ({num_classes}). "
            f"Received {len(descriptions)}."
        )
    if vocabulary is None:
        vocabulary = build_vocabulary([text for group in descriptions for text in group])
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    inputs = model_input(input_shape)
    feature_map = backbone_feature_map(inputs, backbone, weights, freeze_backbone)
    pooled = layers.GlobalAveragePooling2D(name="pooler")(feature_map)
    x = layers.Dropout(dropout, name="head_dropout")(pooled)
    embedding = layers.Dense(embedding_dim, name="embedding", dtype="float32")(x)
    encoder = TextEncoder(
        vocabulary,
        output_dim=embedding_dim,
        word_dim=word_dim,
        units=text_units,
        cell=text_cell,
        sequence_length=sequence_length,
        name="text_encoder",
    )
    logits = DescriptionScores(encoder, descriptions, name="predictions", dtype="float32")(
        embedding
    )
    return ImageTextModel(
        inputs, logits, name=name, class_weight=class_weight, mask_same_class=mask_same_class
    )


def with_descriptions(model: keras.Model, descriptions, name=None) -> keras.Model:
    """The same trained model scoring other classes, given their descriptions.

    Args:
        model: an `image_text` model.
        descriptions: one description (or a list of them) per class to recognise.
        name: the new model's name. Defaults to ``<model name>_k<K>``.

    Returns:
        A functional model on the same layers (image and text weights shared,
        the temperature copied), output ``[batch, K]`` logits.
    """
    head = model.get_layer("predictions")
    if not isinstance(head, DescriptionScores):
        raise ValueError(
            f"Model {model.name!r} does not score classes by text: its 'predictions' layer is "
            f"a {type(head).__name__}. Zero-shot recognition from descriptions needs an "
            "image_text model."
        )
    groups = check_descriptions(descriptions)
    new_head = DescriptionScores(head.text_encoder, groups, name="predictions", dtype="float32")
    outputs = new_head(head.input)
    new_head.logit_scale.assign(head.logit_scale)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, outputs, name=name or f"{model.name}_k{len(groups)}")


@register_model(
    family="multimodal",
    paper=REED_2016,
    year=2016,
    url="https://arxiv.org/abs/1605.05395",
    tags=("text", "dual-encoder", "zero-shot", "retrieval", "multimodal", "multi-pass"),
    features=("image", "text"),
    capabilities=("classify", "embed", "grad_cam", "multi_pass", "text_embedding"),
)
def image_text(**kwargs):
    """Dual encoder: images and descriptions in one space, contrastive + class loss."""
    return build_image_text(**{"backbone": "resnet50", "name": "image_text", **kwargs})
