"""The one classification head every model of the zoo shares.

Each model ends in the same three named layers, so explanation, export and
notebooks find them by name:

- "pooler": the pooled image descriptor (the model family's own pooling;
  the export's embedding signature returns its output);
- "head_dropout": dropout on that descriptor;
- "predictions": a float32 Dense layer returning logits.
"""

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
