"""The exported signatures: encoded bytes or float pixels in, labels out.

Every signature calls the model with ``training=False`` (augmentation and
dropout off) on pixels prepared by `fgkeras.serving.preprocess`:

========================  ==========================  ===========================
signature                 input                       outputs
========================  ==========================  ===========================
``serving_default``       ``image``: tf.string [N]    ``probabilities`` [N, C],
                          (JPEG/PNG/GIF/BMP bytes)    ``top_k_indices`` [N, k],
                                                      ``top_k_scores`` [N, k],
                                                      ``top_k_names`` [N, k]
``classify_pixels``       ``image``: float32          the same, plus ``logits``
                          [N, H, W, 3], 0-255 RGB
``embed``                 ``image`` (bytes)           ``embedding`` [N, D]
``embed_pixels``          ``image`` (float)           ``embedding`` [N, D]
``nearest``               ``image`` (bytes)           ``nearest_names`` [N, k'],
(with a gallery only)                                 ``nearest_distances`` [N, k'],
                                                      ``nearest_indices`` [N, k']
``zero_shot``             ``image`` (bytes),          ``scores`` [N, K],
(attribute models only)   ``class_attributes``        ``probabilities`` [N, K],
                          float32 [K, A]              ``top_k_indices`` [N, k''],
                                                      ``top_k_scores`` [N, k'']
========================  ==========================  ===========================

Every signature names its input ``image``, the name of the image feature
from `fgkeras.data.load` to the model's input layer; the bytes and pixel
signatures differ by dtype and rank. ``embedding`` is the output of the
model's embedding layer (`fgkeras.models.heads.embedding_layer`: the
"embedding" projection when the model has one, else the "pooler"
descriptor). ``classify_pixels`` and ``embed_pixels`` resize any ``H, W`` to
the model's input size the same way as the bytes signatures.

A model with a label tree (``hierarchical``: a ``label_tree`` and layers
"level_logits_<level>") adds, to ``serving_default`` and
``classify_pixels``, ``top_k_names_<level>`` and ``top_k_scores_<level>``
[N, min(k, nodes)] for every level of its tree, coarse first (the last
level's equal ``top_k_names`` and ``top_k_scores``); the level names are
in ``assets/model_card.json`` (``export.levels``).

A model with an attribute head (``attribute_multitask``: a layer
"attribute_logits") adds ``attribute_probabilities`` [N, A] (sigmoid) to
``serving_default`` and ``classify_pixels``; the attribute names are in
``assets/attribute_names.txt``.

A dual encoder (``image_text``: its "predictions" layer scores classes by
their descriptions) adds ``embed_text`` (input ``text``: tf.string [N] →
``embedding`` [N, D], unit vectors in the images' space, for text → image
search) and ``zero_shot`` with input ``descriptions`` (tf.string [K], one
per class) instead of attribute vectors.

``zero_shot`` exists for models that score classes by their attribute
vectors (``zero_shot_attributes``): it scores each image against the K
classes whose attribute vectors the request sends (classes never seen in
training included; A = the model's attributes, listed in
``assets/model_card.json`` as ``export.zero_shot_attributes``), best first,
``k'' = min(top_k, K)``; ``top_k_indices`` index the request's rows.

A model with a side input (``attribute_guided``: a second model input
"attributes") takes it in every image signature as a second input
``attributes``: float32 [N, A], or [1, A] for one vector that applies to
every image of the request; NaN marks an unknown entry (all NaN: nothing
known, the model classifies from the image alone). Its names are in
``assets/attribute_names.txt``. TF Serving's REST API reads ``NaN`` in JSON.

With test-time augmentation (``tta="flip"``, `fgkeras.models.tta`),
``serving_default`` and ``classify_pixels`` run the model on the image and
on its horizontal mirror and average the two views in the graph: every
probability they return (classes, tree levels, attributes) is the mean of
the two views', the top-k are ranked by it, and ``logits`` is the log of the
mean class probabilities (so its softmax is ``probabilities``). The
``embed``, ``embed_pixels``, ``nearest`` and ``zero_shot`` signatures use the
image alone. ``assets/model_card.json`` records it as ``export.tta``.

``nearest`` exists when a `fgkeras.serving.gallery.Gallery` is exported with
the model: it ranks the gallery's classes (names in
``assets/gallery_class_names.txt``, ``nearest_indices`` index them) by the
cosine distance ``1 - cos`` between the L2-normalised query embedding and the
class's prototype, or with ``mode="all"`` its closest gallery image; best
first, ``k' = min(top_k, gallery classes)``.
"""

from __future__ import annotations

import re
import warnings

import keras
import numpy as np
import tensorflow as tf

from fgkeras.checks import check_int
from fgkeras.data.image_header import max_image_pixels
from fgkeras.models.common import side_inputs, with_side_inputs
from fgkeras.models.heads import embedding_layer
from fgkeras.models.tta import check_tta, mean_log_probabilities, tta_views
from fgkeras.serving.preprocess import decode_images, resize_pixels

# Signatures of every export; GALLERY_SIGNATURE_NAMES are added when a gallery is exported.
SIGNATURE_NAMES = ("serving_default", "classify_pixels", "embed", "embed_pixels")
GALLERY_SIGNATURE_NAMES = ("nearest",)
BYTES_SIGNATURES = ("serving_default", "embed", "nearest", "zero_shot")
ZERO_SHOT_INPUT = "class_attributes"  # the second input of ``zero_shot`` (attribute models)
DESCRIPTIONS_INPUT = "descriptions"  # the second input of ``zero_shot`` (image_text)
TEXT_INPUT = "text"  # the input of ``embed_text``
TEXT_ONLY_SIGNATURES = ("embed_text",)  # no image input
SIDE_INPUT = "attributes"  # the second input of every image signature of side-input models
INPUT_NAME = "image"  # the input of every signature, as the data feature and the model input


def inference_model(model: keras.Model) -> keras.Model:
    """The zoo model inside ``model``: augmentation wrappers are left out.

    A model wrapped for training (``fgkeras.training.trainer.Trainer(model, augmenter)``
    or any model holding the zoo model as a sub-model) gives back the inner
    model, the one with a "predictions" layer at its top level.

    >>> import fgkeras
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(32, 32, 3))
    >>> inputs = keras.Input((32, 32, 3))
    >>> wrapped = keras.Model(inputs, net(keras.layers.RandomFlip()(inputs)))
    >>> inference_model(wrapped) is net
    True
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Expected a keras.Model to export. Received: model of type {type(model).__name__}"
        )
    found = _find_zoo_model(model)
    if found is None:
        raise ValueError(
            f"Model {model.name!r} has no layer named 'predictions' (the zoo's logits layer), "
            "at its top level nor in a sub-model. Export a model built with fgkeras.build()."
        )
    return found


def _find_zoo_model(model):
    if _has_layer(model, "predictions"):
        return model
    candidates = [getattr(model, attr, None) for attr in ("model", "inner", "base_model")]
    candidates += list(getattr(model, "layers", []))
    for candidate in candidates:
        if isinstance(candidate, keras.Model) and candidate is not model:
            found = _find_zoo_model(candidate)
            if found is not None:
                return found
    return None


def _has_layer(model, name):
    return any(layer.name == name for layer in getattr(model, "layers", []))


def tree_levels(model: keras.Model, class_names) -> list:
    """``[(key, "level_logits_<key>" layer, node names), ...]`` of a model with a label tree.

    Empty for models without one (or with a one-level tree). The last
    level's names are ``class_names``.

    >>> import fgkeras
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(32, 32, 3))
    >>> tree_levels(net, ["a", "b", "c"])
    []
    """
    tree = getattr(model, "label_tree", None)
    if tree is None or getattr(tree, "num_levels", 1) < 2:
        return []
    keys = [re.sub(r"\W+", "_", str(level)).strip("_") or "level" for level in tree.levels]
    layers = {layer.name: layer for layer in model.layers}
    if any(f"level_logits_{key}" not in layers for key in keys):
        return []
    names = [[str(n) for n in level_names] for level_names in tree.names[:-1]]
    names.append([str(n) for n in class_names])
    return [(key, layers[f"level_logits_{key}"], n) for key, n in zip(keys, names)]


def _text_head(model):
    """The model's `DescriptionScores` "predictions" layer (``image_text``), or None."""
    from fgkeras.layers.text_encoder import DescriptionScores

    head = model.get_layer("predictions") if _has_layer(model, "predictions") else None
    return head if isinstance(head, DescriptionScores) else None


def _zero_shot_head(model):
    """The model's `AttributeCompatibility` "predictions" layer with a class table, or None."""
    from fgkeras.layers.label_embedding import AttributeCompatibility

    head = model.get_layer("predictions") if _has_layer(model, "predictions") else None
    if isinstance(head, AttributeCompatibility) and head.class_attributes is not None:
        return head
    return None


def input_size(model: keras.Model) -> tuple[int, int]:
    """The ``(height, width)`` of the model's pixel input.

    >>> import fgkeras
    >>> input_size(fgkeras.build("baseline", num_classes=2, backbone="tiny",
    ...                          weights=None, input_shape=(40, 32, 3)))
    (40, 32)
    """
    shape = model.input_shape
    if isinstance(shape, list) and side_inputs(model):  # the image and side vectors
        shape = next(tuple(t.shape) for t in model.inputs if t.name == INPUT_NAME)
    if isinstance(shape, list) or len(shape) != 4 or None in shape[1:3]:
        raise ValueError(
            "Export needs a model with one image input (batch, height, width, 3) of known "
            f"height and width. Received: input_shape={shape}"
        )
    return int(shape[1]), int(shape[2])


class ServingFunctions:
    """The Python functions behind each signature, for one model.

    Args:
        model: a zoo model (see `inference_model`).
        class_names: list of class names, index = label.
        top_k: number of best classes returned; clipped to the number of
            classes (of the gallery for ``nearest``). Defaults to 5.
        resize_size: see `fgkeras.serving.preprocess.resize_for_eval`.
            Defaults to None.
        max_pixels: the bytes signatures refuse images whose header declares
            more pixels (see `fgkeras.serving.preprocess.decode_images`);
            None takes ``$FGKERAS_MAX_IMAGE_PIXELS`` or 89,478,485. Defaults
            to None.
        gallery: a `fgkeras.serving.gallery.Gallery` built with this model,
            which adds the ``nearest`` signature, or None. Defaults to None.
        tta: test-time augmentation of ``serving_default`` and
            ``classify_pixels``: None, or "flip" (the image and its mirror,
            probabilities averaged; see the module docstring). Defaults to None.

    >>> import fgkeras, numpy as np
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(32, 32, 3))
    >>> fns = ServingFunctions(net, ["a", "b", "c"], top_k=2)
    >>> out = fns.classify_pixels(tf.zeros([1, 32, 32, 3]))
    >>> out["top_k_names"].shape, sorted(fns.signatures())
    (TensorShape([1, 2]), ['classify_pixels', 'embed', 'embed_pixels', 'serving_default'])
    """

    def __init__(
        self, model, class_names, top_k=5, resize_size=None, max_pixels=None, gallery=None, tta=None
    ):
        self.tta = check_tta(tta)
        self.model = inference_model(model)
        self.image_size = input_size(self.model)
        num_classes = int(self.model.output_shape[-1])
        if len(class_names) != num_classes:
            raise ValueError(
                f"The model has {num_classes} classes but {len(class_names)} class names were "
                f"given. Pass one name per class (index = label). Received: "
                f"{list(class_names)[:5]}{' ...' if len(class_names) > 5 else ''}"
            )
        check_int("top_k", top_k)
        self.top_k = min(top_k, num_classes)
        self.resize_size = resize_size
        self.max_pixels = max_image_pixels(max_pixels)
        self.class_names = [str(name) for name in class_names]
        self.names = tf.constant(self.class_names, tf.string)
        try:
            embedding = embedding_layer(self.model).output
        except ValueError:
            embedding = None
        outputs = {"logits": self.model.output}
        if embedding is not None:
            outputs["embedding"] = embedding
        self.levels = tree_levels(self.model, self.class_names)
        for key, layer, _ in self.levels[:-1]:
            outputs[f"level_logits_{key}"] = layer.output
        if _has_layer(self.model, "attribute_logits"):
            outputs["attribute_logits"] = self.model.get_layer("attribute_logits").output
        self.attribute_names = getattr(self.model, "attribute_names", None)
        self.zero_shot_head = _zero_shot_head(self.model)
        if self.zero_shot_head is not None:
            outputs["attribute_features"] = self.zero_shot_head.input
        self.text_head = _text_head(self.model)
        if self.text_head is not None:
            outputs["joint_embedding"] = self.text_head.input
        self.side = side_inputs(self.model)
        if set(self.side) - {SIDE_INPUT}:
            raise ValueError(
                f"Export takes one side input named {SIDE_INPUT!r}; model {self.model.name!r} "
                f"has {sorted(self.side)}."
            )
        # One functional graph for both outputs shares the model's weights.
        self.network = keras.Model(self.model.inputs, outputs, name=f"{self.model.name}_serving")
        self.gallery = None
        if gallery is not None:
            self._set_gallery(gallery, top_k)

    def _set_gallery(self, gallery, top_k):
        if "embedding" not in self.network.output:
            raise ValueError(
                f"A gallery needs the model's embedding, and {self.model.name!r} has no layer "
                "named 'embedding' or 'pooler'. Export it without a gallery."
            )
        dim = int(self.network.output["embedding"].shape[-1])
        if gallery.embeddings.shape[1] != dim:
            raise ValueError(
                f"The gallery's embeddings have {gallery.embeddings.shape[1]} dimensions and "
                f"the model's have {dim}: build the gallery with this model "
                "(fgkeras.serving.gallery.build_gallery(model, ...))."
            )
        if gallery.image_size is not None and tuple(gallery.image_size) != self.image_size:
            raise ValueError(
                f"The gallery was embedded at {tuple(gallery.image_size)} and the model takes "
                f"{self.image_size}: build the gallery with this model."
            )
        if gallery.image_size is not None and gallery.resize_size != self.resize_size:
            warnings.warn(
                f"The gallery was prepared with resize_size={gallery.resize_size} and the export "
                f"uses resize_size={self.resize_size}: gallery and query images are resized "
                "differently. Build the gallery with the export's resize_size.",
                stacklevel=3,
            )
        self.gallery = gallery
        self.gallery_top_k = min(top_k, gallery.num_classes)
        # Variables (not constants): the gallery is saved in variables/, not in the graph.
        self.gallery_variables = tf.Module(name="gallery")
        self.gallery_variables.embeddings = tf.Variable(
            gallery.embeddings, trainable=False, name="gallery_embeddings"
        )
        self.gallery_variables.labels = tf.Variable(
            gallery.labels, trainable=False, name="gallery_labels"
        )
        self.gallery_names = tf.constant(gallery.class_names, tf.string)

    def signatures(self) -> dict:
        """``{name: (function, input_signature)}`` of every signature."""
        images = [tf.TensorSpec([None], tf.string, name=INPUT_NAME)]
        pixels = [tf.TensorSpec([None, None, None, 3], tf.float32, name=INPUT_NAME)]
        found = {
            "serving_default": (self.serving_default, images),
            "classify_pixels": (self.classify_pixels, pixels),
        }
        if "embedding" in self.network.output:
            found["embed"] = (self.embed, images)
            found["embed_pixels"] = (self.embed_pixels, pixels)
        if self.gallery is not None:
            found["nearest"] = (self.nearest, images)
        if self.zero_shot_head is not None:
            table = tf.TensorSpec(
                [None, self.zero_shot_head.attribute_dim], tf.float32, name=ZERO_SHOT_INPUT
            )
            found["zero_shot"] = (self.zero_shot, [*images, table])
        if self.text_head is not None:
            texts = tf.TensorSpec([None], tf.string, name=TEXT_INPUT)
            descriptions = tf.TensorSpec([None], tf.string, name=DESCRIPTIONS_INPUT)
            found["embed_text"] = (self.embed_text, [texts])
            found["zero_shot"] = (self.zero_shot_text, [*images, descriptions])
        if self.side:
            found = {name: self._with_side(fn, spec) for name, (fn, spec) in found.items()}
        return found

    def _with_side(self, fn, input_signature):
        """``fn`` taking the side vector as a second input (named like the data feature)."""
        spec = tf.TensorSpec([None, self.side[SIDE_INPUT]], tf.float32, name=SIDE_INPUT)

        def with_attributes(image, attributes):
            return fn(image, side=attributes)

        return with_attributes, [*input_signature, spec]

    def example_inputs(self) -> dict:
        """``{signature: {input: array}}``: the inputs besides ``image`` that a
        sample request needs (warmup, verification): the model's own class
        attribute table for ``zero_shot``."""
        if self.text_head is not None:
            first = np.array([group[0] for group in self.text_head.descriptions], dtype=object)
            return {"embed_text": {TEXT_INPUT: first}, "zero_shot": {DESCRIPTIONS_INPUT: first}}
        if self.side:  # one row of unknowns, applied to every image
            unknown = np.full((1, self.side[SIDE_INPUT]), np.nan, np.float32)
            return {name: {SIDE_INPUT: unknown} for name in self.signatures()}
        if self.zero_shot_head is None:
            return {}
        return {"zero_shot": {ZERO_SHOT_INPUT: self.zero_shot_head.class_attributes}}

    def prepare_images(self, images):
        """Encoded bytes ``[N]`` → model-size float pixels."""
        return decode_images(images, self.image_size, self.resize_size, self.max_pixels)

    def prepare_pixels(self, pixels):
        """Any-size float pixels ``[N, H, W, 3]`` → model-size float pixels."""
        return resize_pixels(pixels, self.image_size, self.resize_size)

    def outputs(self, pixels, side=None):
        """Model-size pixels → ``{"logits", "embedding"}`` in float32, inference mode.

        ``side``: a side-input model's side vector (``[N, A]`` or ``[1, A]``);
        None: unknown.
        """
        out = self.network(with_side_inputs(self.network, pixels, side), training=False)
        shapes = {key: value.shape for key, value in self.network.output.items()}
        return {
            key: tf.ensure_shape(tf.cast(value, tf.float32), [None, *shapes[key][1:]])
            for key, value in out.items()
        }

    def views(self, pixels, side=None):
        """The `outputs` of each test-time view of model-size pixels: the image, and
        with ``tta="flip"`` its horizontal mirror (the side vector goes to both)."""
        return [self.outputs(view, side) for view in tta_views(pixels, self.tta)]

    def view_logits(self, views):
        """The ``logits`` output: the image's, or with TTA the log of the mean class
        probabilities of the views (its softmax is their mean)."""
        if len(views) == 1:
            return views[0]["logits"]
        return mean_log_probabilities([view["logits"] for view in views])

    def classifications(self, views):
        """The classifying outputs of `views`: class probabilities and top-k, each tree
        level's and the attributes', every probability averaged over the views."""
        probabilities = _view_mean(views, "logits", _softmax)
        return {
            **self.top_classes(probabilities),
            **self.level_classes(views),
            **self.attributes(views),
        }

    def classes(self, logits):
        """Logits → probabilities and the top-k indices, scores and names."""
        return self.top_classes(tf.nn.softmax(logits, axis=-1))

    def top_classes(self, probabilities):
        """Probabilities → themselves and the top-k indices, scores and names."""
        scores, indices = tf.math.top_k(probabilities, k=self.top_k)
        return {
            "probabilities": probabilities,
            "top_k_indices": indices,
            "top_k_scores": scores,
            "top_k_names": tf.gather(self.names, indices),
        }

    def level_classes(self, out):
        """Each tree level's top-k names and scores (``{}`` for a model without levels).

        ``out``: the `outputs` of one view, or a list of views (probabilities averaged).
        """
        views = out if isinstance(out, list) else [out]
        found = {}
        for key, _, names in self.levels:
            name = "logits" if key == self.levels[-1][0] else f"level_logits_{key}"
            probabilities = _view_mean(views, name, _softmax)
            scores, indices = tf.math.top_k(probabilities, k=min(self.top_k, len(names)))
            found[f"top_k_names_{key}"] = tf.gather(tf.constant(names, tf.string), indices)
            found[f"top_k_scores_{key}"] = scores
        return found

    def attributes(self, out):
        """The attribute probabilities (``{}`` for a model without an attribute head).

        ``out``: the `outputs` of one view, or a list of views (probabilities averaged).
        """
        views = out if isinstance(out, list) else [out]
        if "attribute_logits" not in views[0]:
            return {}
        return {"attribute_probabilities": _view_mean(views, "attribute_logits", tf.sigmoid)}

    # The argument name is the signature's input name: `image` everywhere.
    def serving_default(self, image, side=None):
        return self.classifications(self.views(self.prepare_images(image), side))

    def classify_pixels(self, image, side=None):
        views = self.views(self.prepare_pixels(image), side)
        return {"logits": self.view_logits(views), **self.classifications(views)}

    def embed(self, image, side=None):
        return {"embedding": self.outputs(self.prepare_images(image), side)["embedding"]}

    def embed_pixels(self, image, side=None):
        return {"embedding": self.outputs(self.prepare_pixels(image), side)["embedding"]}

    def zero_shot(self, image, class_attributes):
        features = self.outputs(self.prepare_images(image))["attribute_features"]
        return self.ranked(self.zero_shot_head.scores(features, class_attributes))

    def embed_text(self, text):
        """Strings ``[N]`` → unit text embeddings ``[N, D]`` in the images' space."""
        return {"embedding": tf.cast(self.text_head.text_encoder(text), tf.float32)}

    def zero_shot_text(self, image, descriptions):
        """Image bytes against K class descriptions (one string each) → scores ``[N, K]``."""
        embedding = self.outputs(self.prepare_images(image))["joint_embedding"]
        vectors = self.text_head.class_vectors(descriptions)
        return self.ranked(self.text_head.scores(embedding, vectors))

    def ranked(self, scores):
        """Zero-shot scores ``[N, K]`` → scores, probabilities and the top min(k, K) rows."""
        scores = tf.cast(scores, tf.float32)
        probabilities = tf.nn.softmax(scores, axis=-1)
        best, indices = tf.math.top_k(probabilities, k=tf.minimum(self.top_k, tf.shape(scores)[-1]))
        return {
            "scores": scores,
            "probabilities": probabilities,
            "top_k_indices": indices,
            "top_k_scores": best,
        }

    def nearest(self, image, side=None):
        return self.nearest_classes(self.outputs(self.prepare_images(image), side)["embedding"])

    def nearest_classes(self, embedding):
        """Embeddings ``[N, D]`` → the ``k'`` nearest gallery classes, best first.

        Cosine distance ``1 - cos`` to each class's prototype, or with
        ``mode="all"`` to its closest gallery image.
        """
        query = tf.math.l2_normalize(embedding, axis=-1)
        gallery = self.gallery_variables
        similarity = tf.matmul(query, gallery.embeddings, transpose_b=True)  # [N, G]
        if self.gallery.mode == "all":  # a class is as close as its closest image
            similarity = tf.transpose(
                tf.math.unsorted_segment_max(
                    tf.transpose(similarity), gallery.labels, self.gallery.num_classes
                )
            )
        best, indices = tf.math.top_k(similarity, k=self.gallery_top_k)
        return {
            "nearest_names": tf.gather(self.gallery_names, indices),
            "nearest_distances": tf.clip_by_value(1.0 - best, 0.0, 2.0),
            "nearest_indices": indices,
        }

    def tflite_function(self):
        """A `tf.function` for TFLite: model-size pixels → logits and probabilities.

        Fixed input shape ``[1, H, W, 3]`` and no string ops, so it converts
        to TFLite builtins; decoding and resizing stay outside TFLite. With
        ``tta="flip"`` the mirror is taken and averaged inside (as in
        ``classify_pixels``).
        """
        height, width = self.image_size
        spec = tf.TensorSpec([1, height, width, 3], tf.float32, name=INPUT_NAME)

        @tf.function(input_signature=[spec])
        def classify(image):
            views = self.views(image)
            return {
                "logits": self.view_logits(views),
                "probabilities": _view_mean(views, "logits", _softmax),
            }

        return classify


def _softmax(logits):
    return tf.nn.softmax(logits, axis=-1)


def _view_mean(views, key, activation):
    """The mean over views of ``activation(view[key])`` (the one view's value when alone)."""
    values = [activation(view[key]) for view in views]
    return values[0] if len(values) == 1 else tf.add_n(values) / float(len(values))
