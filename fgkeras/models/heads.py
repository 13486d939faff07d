"""The one classification head every model of the zoo shares.

Each model ends in the same three named layers, so explanation, export and
notebooks find them by name:

- "pooler": the pooled image descriptor (the model family's own pooling;
  the export's embedding signature returns its output);
- "head_dropout": dropout on that descriptor;
- "predictions": a float32 Dense layer returning logits.

A model built with ``embedding_dim=D`` (any single-pass model; see
`add_embedding_projection`) has one more layer between "pooler" and the
dropout: "embedding", a learned linear projection to ``D`` dimensions that
metric losses train and retrieval, few-shot evaluation and export use.
"""

import keras
from keras import layers

from fgkeras.checks import check_int


def check_num_classes(num_classes) -> int:
    """Validate ``num_classes`` and return it as an int.

    >>> check_num_classes(200)
    200
    """
    return check_int("num_classes", num_classes)


def classification_head(pooled, num_classes: int, dropout: float = 0.0):
    """Dropout, then a Dense layer to ``num_classes`` logits (kept in float32).

    Args:
        pooled: the (batch, features) output of a layer named "pooler".
        num_classes: number of classes.
        dropout: dropout rate on the pooled features. Defaults to 0.0.

    >>> x = layers.Input((16,))
    >>> classification_head(x, num_classes=5).shape
    (None, 5)
    """
    check_num_classes(num_classes)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    x = layers.Dropout(dropout, name="head_dropout")(pooled)
    # float32 logits keep softmax and losses stable under mixed precision.
    return layers.Dense(num_classes, name="predictions", dtype="float32")(x)


EMBEDDING_LAYERS = ("embedding", "pooler")


def embedding_layer(model):
    """The layer whose output is the model's image embedding.

    A model built with ``embedding_dim`` (a learned projection for metric
    learning) has a layer named "embedding"; every other model's embedding is
    its "pooler" output. Retrieval, few-shot evaluation, export's ``embed`` and
    ``nearest`` signatures all read the embedding through this one rule.

    Raises:
        ValueError: if the model has neither layer.

    >>> import fgkeras
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(32, 32, 3))
    >>> embedding_layer(net).name
    'pooler'
    """
    names = {layer.name: layer for layer in model.layers}
    for name in EMBEDDING_LAYERS:
        if name in names:
            return names[name]
    raise ValueError(
        f"Model {model.name!r} has no embedding: it needs a layer named 'embedding' or "
        f"'pooler' (the zoo's models have one). Received a model with layers "
        f"{list(names)[-5:]} (last five)."
    )


def embedding_model(model):
    """A `keras.Model` from ``model``'s inputs to its `embedding_layer`'s output.

    >>> import fgkeras
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(16, 16, 3))
    >>> embedding_model(net).output_shape[0] is None
    True
    """
    if not getattr(model, "inputs", None):
        raise ValueError(
            "Embeddings need a functional Keras model (one with `inputs`), such as the "
            f"zoo's models. Received: {type(model).__name__}"
        )
    return keras.Model(model.inputs, embedding_layer(model).output, name=f"{model.name}_embed")


def add_embedding_projection(model, embedding_dim: int):
    """Return ``model`` with a learned ``embedding_dim``-d embedding before its logits.

    The new functional model shares every layer of ``model`` up to "pooler",
    then runs pooler → Dense "embedding" (``embedding_dim``) → "head_dropout"
    → a new "predictions" layer. Metric losses train the (L2-normalised)
    "embedding" output; it keeps retrieval and galleries small when the pooled
    descriptor is huge (B-CNN on VGG16 pools 262,144 features).

    Args:
        model: a functional zoo model whose logits come from its "pooler"
            through "head_dropout" and "predictions".
        embedding_dim: size of the projection.

    Raises:
        ValueError: for models whose logits are not a plain head on "pooler"
            (multi-pass models such as WS-DAN or RA-CNN).

    >>> import fgkeras
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(32, 32, 3), embedding_dim=16)
    >>> embedding_layer(net).name, embedding_layer(net).output.shape, net.output_shape
    ('embedding', (None, 16), (None, 3))
    """
    check_int("embedding_dim", embedding_dim)
    names = {layer.name for layer in model.layers}
    # Functional subclasses that keep single-pass training rebuild themselves (`with_outputs`).
    functional = type(model) is keras.Model or type(model).__name__ == "Functional"
    plain_head = (functional or callable(getattr(model, "with_outputs", None))) and {
        "pooler",
        "head_dropout",
        "predictions",
    } <= names
    if plain_head:
        plain_head = len(model.outputs) == 1 and (
            model.outputs[0] is model.get_layer("predictions").output
        )
    if not plain_head or "embedding" in names:
        raise ValueError(
            f"embedding_dim needs a single-pass model whose logits come from its 'pooler' "
            f"through 'head_dropout' and 'predictions'; model {model.name!r} "
            f"({type(model).__name__}) is not one (multi-pass models train their own "
            f"losses). Received: embedding_dim={embedding_dim!r}"
        )
    old_head = model.get_layer("predictions")
    embedding = layers.Dense(embedding_dim, name="embedding")(model.get_layer("pooler").output)
    x = layers.Dropout(model.get_layer("head_dropout").rate, name="head_dropout")(embedding)
    # The same kind of head (a Dense classifier, ALE's attribute compatibility, ...)
    # on the new, smaller input.
    config = {**old_head.get_config(), "name": "predictions", "dtype": "float32"}
    logits = type(old_head).from_config(config)(x)
    if not functional:
        return model.with_outputs(logits)
    return keras.Model(model.input, logits, name=model.name)
