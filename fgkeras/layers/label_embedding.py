"""Attribute Label Embedding: class scores as the compatibility of image and class attributes.

Akata et al., "Label-Embedding for Image Classification", TPAMI 2016 (and
"Label-Embedding for Attribute-Based Classification", CVPR 2013,
https://arxiv.org/abs/1503.08677) score an image ``x`` against a class ``y``
by a bilinear compatibility between the image's embedding ``θ(x)`` (here the
model's "pooler" output, dimension ``D``) and the class's attribute vector
``φ(y)`` (dimension ``A``)::

    F(x, y) = θ(x)ᵀ W φ(y),        W ∈ R^{D×A} learned

``φ`` is fixed (a class × attribute table: CUB's per-class attribute
percentages, the synthetic birds' part colours), so a class never seen in
training is recognised from its attribute vector alone: replace the table
(`with_class_attributes`) and the same ``W`` scores the new classes. The
rows of the table are L2-normalised by default, as in the paper (ℓ2
normalisation of φ "always improved" their results). Without a table the
layer learns one ``embedding_dim``-dimensional vector per class instead
(WSABIE, the paper's "label embedding learned from data" baseline), which
classifies but cannot do zero-shot recognition.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from fgkeras.checks import check_int


@keras.saving.register_keras_serializable(package="fgkeras")
class AttributeCompatibility(keras.layers.Layer):
    """Class logits ``θ(x)ᵀ W φ(y)`` for every class ``y`` of a class × attribute table.

    Args:
        num_classes: number of classes C (rows of ``class_attributes``).
        class_attributes: ``[C, A]`` attribute vectors φ(y) of the classes
            (nested lists or an array), or None to learn a ``[C,
            embedding_dim]`` table (WSABIE). Defaults to None.
        embedding_dim: size of the learned class vectors when there is no
            table. Defaults to 64.
        normalize: L2-normalise the rows of φ. Defaults to True.

    Input ``[batch, D]`` image embeddings; output ``[batch, C]`` logits.

    >>> import numpy as np
    >>> layer = AttributeCompatibility(3, class_attributes=np.eye(3, 4))
    >>> tuple(layer(np.ones((2, 5), "float32")).shape)
    (2, 3)
    >>> tuple(layer.scores(np.ones((2, 5), "float32"), np.eye(7, 4)).shape)  # 7 other classes
    (2, 7)
    """

    def __init__(self, num_classes, class_attributes=None, embedding_dim=64, normalize=True,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.num_classes = check_int("num_classes", num_classes)
        self.embedding_dim = check_int("embedding_dim", embedding_dim)
        self.normalize = bool(normalize)
        self.class_attributes = None
        if class_attributes is not None:
            table = np.asarray(class_attributes, np.float32)
            if table.ndim != 2 or len(table) != self.num_classes or not table.shape[1]:
                raise ValueError(
                    f"`class_attributes` must be a [num_classes={self.num_classes}, "
                    f"num_attributes] table. Received shape {table.shape}"
                )
            if not np.all(np.isfinite(table)):
                raise ValueError("`class_attributes` holds NaN or infinite values.")
            self.class_attributes = table

    @property
    def attribute_dim(self) -> int:
        """A: the length of a class vector φ(y)."""
        if self.class_attributes is None:
            return self.embedding_dim
        return int(self.class_attributes.shape[1])

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(int(input_shape[-1]), self.attribute_dim),
            initializer="glorot_uniform",
            name="kernel",
        )
        if self.class_attributes is None:
            self.class_embeddings = self.add_weight(
                shape=(self.num_classes, self.embedding_dim),
                initializer="glorot_uniform",
                name="class_embeddings",
            )

    def project(self, embeddings):
        """``θ(x)ᵀ W``: image embeddings in attribute space, ``[batch, A]``."""
        return ops.matmul(ops.cast(embeddings, self.compute_dtype), self.kernel)

    def class_vectors(self):
        """φ of the layer's classes, ``[C, A]`` (normalised when ``normalize``)."""
        if self.class_attributes is None:
            table = self.class_embeddings
        else:
            table = ops.convert_to_tensor(self.class_attributes, self.compute_dtype)
        return self._normalized(table)

    def scores(self, embeddings, class_attributes):
        """Logits of ``embeddings`` against any ``[K, A]`` table of class vectors."""
        table = ops.cast(ops.convert_to_tensor(class_attributes), self.compute_dtype)
        return ops.matmul(self.project(embeddings), ops.transpose(self._normalized(table)))

    def _normalized(self, table):
        if not self.normalize:
            return table
        norm = ops.sqrt(ops.sum(ops.square(table), axis=-1, keepdims=True))
        return table / ops.maximum(norm, 1e-12)

    def call(self, inputs):
        return ops.matmul(self.project(inputs), ops.transpose(self.class_vectors()))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_classes)

    def get_config(self):
        table = None if self.class_attributes is None else self.class_attributes.tolist()
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "class_attributes": table,
            "embedding_dim": self.embedding_dim,
            "normalize": self.normalize,
        }
