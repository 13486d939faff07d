"""A classifier from class prototypes, for runs trained by a metric loss alone.

A triplet or contrastive loss trains the embedding, not the "predictions"
layer. So that such a run still classifies (``evaluate``, ``predict``,
``serving_default``), its classifier is set to the nearest class prototype:
each class's prototype is the L2-normalised mean of its training images'
L2-normalised embeddings, and the kernel's column ``c`` is that prototype.
For one image the logits are then ``|e| * cos(e, prototype_c)``, so their
arg-max is the nearest prototype by cosine, exactly (``|e|`` is the same for
every class); ``scale`` only sets how peaked the softmax is.
"""

from __future__ import annotations

import numpy as np


def set_prototype_classifier(model, dataset, num_classes: int, scale: float = 16.0) -> np.ndarray:
    """Set ``model``'s "predictions" layer to nearest-prototype classification.

    Args:
        model: a zoo model whose "predictions" layer reads its embedding
            (through "head_dropout").
        dataset: batched ``(images, labels)`` training images, unaugmented.
        num_classes: number of classes (a class without images gets zero logits).
        scale: logits of an image of average embedding norm at cosine 1.
            Defaults to 16.0.

    Returns:
        The prototypes, ``float32 [num_classes, D]``.

    >>> import fgkeras, numpy as np, tensorflow as tf
    >>> net = fgkeras.build("baseline", num_classes=2, backbone="tiny", weights=None,
    ...                     input_shape=(16, 16, 3), embedding_dim=4)
    >>> images = np.random.default_rng(0).uniform(0, 255, (6, 16, 16, 3)).astype("float32")
    >>> data = tf.data.Dataset.from_tensor_slices((images, [0, 0, 0, 1, 1, 1])).batch(3)
    >>> set_prototype_classifier(net, data, num_classes=2).shape
    (2, 4)
    """
    from fgkeras.evaluation.retrieval import embed_dataset

    embeddings, labels = embed_dataset(model, dataset)
    head = model.get_layer("predictions")
    kernel_shape = tuple(head.kernel.shape)
    if kernel_shape != (embeddings.shape[1], num_classes):
        raise ValueError(
            f"The 'predictions' layer of {model.name!r} does not read the embedding: its "
            f"kernel is {kernel_shape}, the embedding has {embeddings.shape[1]} dimensions "
            f"and there are {num_classes} classes."
        )
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.maximum(norms, 1e-12)
    prototypes = np.zeros((num_classes, embeddings.shape[1]), np.float32)
    np.add.at(prototypes, labels, unit)
    prototypes /= np.maximum(np.linalg.norm(prototypes, axis=1, keepdims=True), 1e-12)
    factor = scale / max(float(norms.mean()), 1e-12)
    head.set_weights([(factor * prototypes.T).astype(np.float32), np.zeros(num_classes, "float32")])
    return prototypes
