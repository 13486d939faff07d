"""A text encoder that takes raw strings: vectorisation, word embeddings, a bidirectional RNN.

Reed, Akata, Lee and Schiele, "Learning Deep Representations of
Fine-Grained Visual Descriptions", CVPR 2016
(https://arxiv.org/abs/1605.05395), encode a bird's description with a
word-level recurrent network and embed it in the same space as the image.
`TextEncoder` is that text tower:

    strings ─ TextVectorization ─ Embedding ─ BiGRU/BiLSTM ─ masked mean ─ Dense ─ L2

`keras.layers.TextVectorization` (lower-case, strip punctuation, split on
spaces, fixed vocabulary) runs inside the layer, so a SavedModel that
contains it takes raw strings. It is TensorFlow-backed, the one exception
to the zoo's backend-portable layers: Keras ships no portable string ops.
The vocabulary is fixed when the layer is made (`build_vocabulary` from
training texts) and saved in its config.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from fgkeras.checks import check_int

CELLS = {"gru": layers.GRU, "lstm": layers.LSTM}


def build_vocabulary(texts, max_tokens=20000) -> list:
    """The words of ``texts`` most frequent first, as `TextEncoder` tokenises them.

    >>> build_vocabulary(["A red bird.", "a blue bird"])
    ['bird', 'a', 'red', 'blue']
    """
    check_int("max_tokens", max_tokens, minimum=3)
    vectorizer = layers.TextVectorization(max_tokens=max_tokens, standardize=STANDARDIZE)
    vectorizer.adapt(list(texts))
    # Index 0 is the padding token, index 1 the out-of-vocabulary token.
    return [str(token) for token in vectorizer.get_vocabulary()[2:]]


STANDARDIZE = "lower_and_strip_punctuation"


def unit_rows(x):
    """``x`` with each row scaled to unit L2 norm (zero rows stay zero)."""
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True)), 1e-12)


@keras.saving.register_keras_serializable(package="fgkeras")
class TextEncoder(keras.layers.Layer):
    """Strings ``[B]`` → L2-normalised text embeddings ``[B, output_dim]``.

    Args:
        vocabulary: the known words (see `build_vocabulary`); others map to
            one out-of-vocabulary token.
        output_dim: size of the embedding. Defaults to 128.
        word_dim: size of the word embeddings. Defaults to 64.
        units: RNN units per direction. Defaults to 64.
        cell: "gru" or "lstm". Defaults to "gru".
        sequence_length: words kept per text (padded or cut). Defaults to 32.
        normalize: L2-normalise the output. Defaults to True.

    >>> import numpy as np
    >>> encoder = TextEncoder(["a", "red", "bird"], output_dim=8)
    >>> out = encoder(np.array(["a red bird", "a green bird!"]))
    >>> tuple(out.shape), bool(np.allclose(np.linalg.norm(out, axis=1), 1.0))
    ((2, 8), True)
    """

    def __init__(self, vocabulary, output_dim=128, word_dim=64, units=64, cell="gru",
                 sequence_length=32, normalize=True, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        vocabulary = [str(word) for word in vocabulary]
        if not vocabulary:
            raise ValueError("`vocabulary` must hold at least one word.")
        if cell not in CELLS:
            raise ValueError(f"`cell` must be one of {sorted(CELLS)}. Received: cell={cell!r}")
        self.vocabulary = vocabulary
        self.output_dim = check_int("output_dim", output_dim)
        self.word_dim = check_int("word_dim", word_dim)
        self.units = check_int("units", units)
        self.cell = cell
        self.sequence_length = check_int("sequence_length", sequence_length)
        self.normalize = bool(normalize)
        self.vectorizer = layers.TextVectorization(
            standardize=STANDARDIZE,
            output_mode="int",
            output_sequence_length=self.sequence_length,
            vocabulary=vocabulary,
            name="vectorizer",
        )
        self.words = layers.Embedding(len(vocabulary) + 2, self.word_dim, name="words")
        self.rnn = layers.Bidirectional(CELLS[cell](self.units, return_sequences=True), name="rnn")
        self.projection = layers.Dense(self.output_dim, name="projection")

    def build(self, input_shape):
        self.words.build((None, self.sequence_length))
        self.rnn.build((None, self.sequence_length, self.word_dim))
        self.projection.build((None, 2 * self.units))
        self.built = True

    def call(self, texts, training=False):
        texts = ops.reshape(texts, (-1,))
        tokens = self.vectorizer(texts)
        mask = ops.not_equal(tokens, 0)
        states = self.rnn(self.words(tokens), mask=mask, training=training)
        weights = ops.expand_dims(ops.cast(mask, states.dtype), -1)
        pooled = ops.sum(states * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        out = self.projection(pooled)
        return unit_rows(out) if self.normalize else out

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "output_dim": self.output_dim,
            "word_dim": self.word_dim,
            "units": self.units,
            "cell": self.cell,
            "sequence_length": self.sequence_length,
            "normalize": self.normalize,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class DescriptionScores(keras.layers.Layer):
    """Class logits from text: an image embedding against each class's descriptions.

    Each class has one or more descriptions; the class's vector is the mean
    of their `TextEncoder` embeddings, re-normalised (Reed et al. 2016 average
    a class's sentence embeddings the same way). The logit of class ``c`` is
    ``exp(logit_scale) · cos(image, class_c)``, ``logit_scale`` a learned
    weight (CLIP's temperature, initialised to log(1 / 0.07)). Replacing the
    descriptions (`fgkeras.models.image_text.with_descriptions`) recognises
    classes never seen in training from their text alone.

    Args:
        text_encoder: a `TextEncoder` (or its config).
        descriptions: one list of strings per class (or one string per class).
        logit_scale_init: the initial ``logit_scale``. Defaults to log(1 / 0.07).

    >>> import numpy as np
    >>> encoder = TextEncoder(["red", "blue", "bird"], output_dim=4)
    >>> scores = DescriptionScores(encoder, [["a red bird"], ["a blue bird", "blue"]])
    >>> tuple(scores(np.ones((2, 4), "float32")).shape)
    (2, 2)
    """

    def __init__(self, text_encoder, descriptions, logit_scale_init=2.6593, **kwargs):
        super().__init__(**kwargs)
        if isinstance(text_encoder, dict):
            text_encoder = keras.saving.deserialize_keras_object(text_encoder)
        if not isinstance(text_encoder, TextEncoder):
            raise ValueError(
                f"`text_encoder` must be a TextEncoder. Received: {type(text_encoder).__name__}"
            )
        self.text_encoder = text_encoder
        self.descriptions = check_descriptions(descriptions)
        self.logit_scale_init = float(logit_scale_init)

    def build(self, input_shape):
        if not self.text_encoder.built:
            self.text_encoder.build((None,))
        self.logit_scale = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.logit_scale_init),
            name="logit_scale",
        )
        self.built = True

    def class_vectors(self, descriptions=None, training=False):
        """``[C, D]`` unit vectors of the classes (of ``descriptions`` if given)."""
        descriptions = self.descriptions if descriptions is None else descriptions
        if isinstance(descriptions, list):  # one list of strings per class
            texts = [text for group in descriptions for text in group]
            owners = [c for c, group in enumerate(descriptions) for _ in group]
            embedded = self.text_encoder(ops.convert_to_tensor(texts), training=training)
            summed = ops.segment_sum(embedded, ops.convert_to_tensor(owners), len(descriptions))
        else:  # a tensor of one string per class (the zero_shot signature)
            summed = self.text_encoder(descriptions, training=training)
        return unit_rows(summed)

    def scores(self, image_embeddings, class_vectors):
        """``exp(logit_scale) · cos`` of images ``[B, D]`` and class vectors ``[C, D]``."""
        images = unit_rows(ops.cast(image_embeddings, "float32"))
        return ops.exp(self.logit_scale) * ops.matmul(images, ops.transpose(class_vectors))

    def call(self, inputs, training=False):
        return self.scores(inputs, self.class_vectors(training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.descriptions))

    def get_config(self):
        return {
            **super().get_config(),
            "text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
            "descriptions": self.descriptions,
            "logit_scale_init": self.logit_scale_init,
        }


def check_descriptions(descriptions) -> list:
    """One non-empty list of strings per class (a single string becomes a list of one).

    >>> check_descriptions(["a red bird", ["a blue bird", "blue wings"]])
    [['a red bird'], ['a blue bird', 'blue wings']]
    """
    if isinstance(descriptions, str) or not descriptions:
        raise ValueError(
            "`descriptions` must hold one description (or a list of them) per class. "
            f"Received: {descriptions!r}"
        )
    groups = [[d] if isinstance(d, str) else [str(x) for x in d] for d in descriptions]
    empty = [c for c, group in enumerate(groups) if not group]
    if empty:
        raise ValueError(f"Classes {empty} have no description.")
    return groups
