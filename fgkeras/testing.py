"""Shared test helpers: the contract every layer and model of the zoo keeps.

`check_layer_contract` runs the house checks on a layer class: config round
trip, symbolic and eager calls with the declared output shape, one `fit`
step, and a `.keras` save/load that reproduces the outputs.
`check_model_contract` does the model-level counterpart.
"""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np

from fgkeras.models.common import image_input_shape, nested_layers, side_inputs


def random_inputs(shape, seed=0, low=0.0, high=1.0):
    """A float32 array of uniform random values, for tests.

    >>> random_inputs((2, 3)).shape
    (2, 3)
    """
    return np.random.default_rng(seed).uniform(low, high, shape).astype("float32")


def check_layer_contract(
    layer_cls,
    init_kwargs: dict,
    input_shape,
    expected_output_shape=None,
    trains: bool = True,
) -> None:
    """Run the layer contract checks; raise AssertionError on the first failure.

    Args:
        layer_cls: the layer class.
        init_kwargs: arguments to construct it.
        input_shape: a full input shape (with batch size), or a list of them
            for layers called on a list of inputs.
        expected_output_shape: the full output shape; None to skip that check.
            Defaults to None.
        trains: also run one `fit` step through the layer. Defaults to True.

    >>> from fgkeras.layers import SignedSqrtL2Normalization
    >>> check_layer_contract(SignedSqrtL2Normalization, {}, (2, 8), (2, 8))
    """
    multi = isinstance(input_shape, list)
    shapes = input_shape if multi else [input_shape]
    data = [random_inputs(shape, seed=i) for i, shape in enumerate(shapes)]
    call_data = data if multi else data[0]

    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config, "get_config/from_config round trip changed the config"
    for key in init_kwargs:
        assert key in config, f"init argument {key!r} missing from get_config()"

    symbolic = [keras.Input(shape[1:], batch_size=shape[0]) for shape in shapes]
    symbolic_out = layer(symbolic if multi else symbolic[0])
    eager_out = keras.ops.convert_to_numpy(layer(call_data))
    if expected_output_shape is not None:
        assert tuple(symbolic_out.shape) == tuple(expected_output_shape), (
            f"symbolic output shape {symbolic_out.shape} != {expected_output_shape}"
        )
        assert eager_out.shape == tuple(expected_output_shape), (
            f"eager output shape {eager_out.shape} != {expected_output_shape}"
        )
        static = layer.compute_output_shape(input_shape if multi else input_shape)
        assert tuple(static) == tuple(expected_output_shape), (
            f"compute_output_shape {static} != {expected_output_shape}"
        )
    assert np.all(np.isfinite(eager_out)), "layer output has NaN or inf"

    model_inputs = symbolic if multi else symbolic[0]
    model = keras.Model(model_inputs, layer_cls(**init_kwargs)(model_inputs))
    if trains:
        model.compile(optimizer="sgd", loss="mse")
        target = np.zeros_like(keras.ops.convert_to_numpy(model(call_data)))
        history = model.fit(call_data, target, epochs=1, batch_size=shapes[0][0], verbose=0)
        assert np.isfinite(history.history["loss"][0]), "fit step produced a non-finite loss"
    assert_keras_round_trip(model, call_data)


def assert_keras_round_trip(model: keras.Model, inputs, atol: float = 1e-5) -> keras.Model:
    """Save ``model`` as ``.keras``, load it back, check equal outputs; return it.

    >>> inputs = keras.Input((3,))
    >>> model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    >>> _ = assert_keras_round_trip(model, random_inputs((4, 3)))
    """
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    actual = keras.ops.convert_to_numpy(loaded(inputs, training=False))
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=1e-4)
    return loaded


def check_model_contract(model: keras.Model, num_classes: int, batch_size: int = 2) -> None:
    """Model-level checks: logits shape, finite, gradients reach every weight.

    Every trainable weight must get a gradient from the cross-entropy of
    ``model(x, training=True)`` or, for a multi-pass model, from a loss term
    of its own training step (`train_losses` routed by `trainable_groups`).
    Also checks the `.keras` round trip and that no `Lambda` layer is used.

    >>> import fgkeras
    >>> model = fgkeras.build("baseline", num_classes=3, backbone="tiny",
    ...                       weights=None, input_shape=(16, 16, 3))
    >>> check_model_contract(model, num_classes=3)
    """
    import tensorflow as tf  # gradient check uses the TensorFlow backend

    pixels = random_inputs((batch_size, *image_input_shape(model)), low=0.0, high=255.0)
    logits = keras.ops.convert_to_numpy(model(pixels, training=False))
    assert logits.shape == (batch_size, num_classes), f"logits shape {logits.shape}"
    assert np.all(np.isfinite(logits)), "logits have NaN or inf"

    labels = np.arange(batch_size) % num_classes
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, model(pixels, training=True))
    gradients = tape.gradient(loss, model.trainable_weights)
    missing = [w for w, g in zip(model.trainable_weights, gradients) if g is None]
    if missing and callable(getattr(model, "train_losses", None)):
        # A multi-pass model may train some weights only through its own extra
        # loss terms (e.g. a REINFORCE baseline): look for them in its train step.
        missing = _without_train_step_gradient(model, pixels, labels, loss_fn, missing)
    missing = [w.path for w in missing]
    assert not missing, f"trainable weights without gradient: {missing[:5]}"
    bad = [
        w.path
        for w, g in zip(model.trainable_weights, gradients)
        if g is not None and not np.all(np.isfinite(tf.convert_to_tensor(g)))  # IndexedSlices too
    ]
    assert not bad, f"non-finite gradients: {bad[:5]}"

    lambdas = [
        layer.name for _, layer in nested_layers(model) if isinstance(layer, keras.layers.Lambda)
    ]
    assert not lambdas, f"Lambda layers do not serialize safely: {lambdas}"
    assert_keras_round_trip(model, pixels, atol=1e-4)


def training_inputs(model, pixels):
    """What a model's own training step takes for a batch of ``pixels``: the pixels,
    or with the data features it trains on (random attributes, texts), a feature dict.

    >>> import fgkeras
    >>> net = fgkeras.build("attribute_multitask", num_classes=2, backbone="tiny",
    ...                     weights=None, input_shape=(16, 16, 3), num_attributes=5)
    >>> x = training_inputs(net, random_inputs((2, 16, 16, 3)))
    >>> sorted(x), tuple(x["attributes"].shape)
    (['attributes', 'image'], (2, 5))
    """
    import tensorflow as tf

    names = {layer.name for layer in model.layers}
    batch = len(pixels)
    x = {"image": tf.constant(pixels)}
    if "attribute_logits" in names:
        count = int(model.get_layer("attribute_logits").output.shape[-1])
        x["attributes"] = tf.constant((random_inputs((batch, count)) > 0.5).astype("float32"))
    for name, width in side_inputs(model).items():
        x[name] = tf.constant((random_inputs((batch, width), seed=1) > 0.5).astype("float32"))
    if callable(getattr(model, "embed_text", None)):
        x["text"] = tf.constant([f"a bird with a {c} crown" for c in ("red", "blue")] * batch)[
            :batch
        ]
    return x if len(x) > 1 else x["image"]


def _without_train_step_gradient(model, pixels, labels, loss_fn, weights):
    """The ``weights`` that no loss term of the model's own training step reaches."""
    import tensorflow as tf

    with tf.GradientTape(persistent=True) as tape:
        terms, _ = model.train_losses(
            training_inputs(model, pixels),
            tf.constant(labels),
            None,
            lambda y_pred: loss_fn(labels, y_pred),
        )
        groups = model.trainable_groups(terms, 0)
    reached = set()
    for loss, group in groups:
        wanted = [w for w in weights if any(w is v for v in group)]
        for weight, gradient in zip(wanted, tape.gradient(loss, wanted) if wanted else []):
            if gradient is not None:
                reached.add(id(weight))
    del tape
    return [w for w in weights if id(w) not in reached]


def check_capabilities(model: keras.Model, card: dict, num_classes: int) -> list[str]:
    """Run the check of every capability ``card`` declares; return the names checked.

    - ``classify``: the main output is (batch, num_classes) logits.
    - ``embed``: a "pooler" layer outputs a (batch, dim) embedding.
    - ``grad_cam``: a "feature_map" layer outputs a (batch, h, w, c) map.
    - ``attention_maps``: layers named "attention_maps*" output 4-D maps.
    - ``glimpse_boxes``: a "glimpse_boxes" layer outputs (batch, n, 4) boxes,
      ordered and inside [0, 1].
    - ``level_logits``: "level_logits_*" layers output (batch, nodes) logits,
      the last of them the main output.
    - ``multi_pass``: the model has its own `train_losses` and `trainable_groups`.
    - ``mixing``: one `Trainer` step on soft (one-hot mixed) labels runs and is finite.
    - ``attribute_logits``: an "attribute_logits" layer outputs finite (batch, A) logits.
    - ``text_embedding``: ``embed_text`` gives unit vectors in the image
      embedding's space and other descriptions give other classes' scores.
    - ``zero_shot``: "predictions" is an `AttributeCompatibility` that scores
      the pooled embedding against another table of class vectors.
    - ``side_input``: a second input "attributes" (batch, A); images alone
      equal an all-unknown (NaN) side vector, and a known one reaches the
      weights (their gradients differ).

    Args:
        model: a built zoo model.
        card: its `fgkeras.model_card` (or a dict with "capabilities").
        num_classes: the model's number of classes.

    >>> import fgkeras
    >>> model = fgkeras.build("baseline", num_classes=3, backbone="tiny",
    ...                       weights=None, input_shape=(16, 16, 3))
    >>> check_capabilities(model, fgkeras.model_card("baseline"), 3)
    ['classify', 'embed', 'grad_cam', 'mixing']
    """
    images = random_inputs((2, *image_input_shape(model)), low=0.0, high=255.0)
    checked = []
    for capability in card["capabilities"]:
        CAPABILITY_CHECKS[capability](model, images, num_classes)
        checked.append(capability)
    return checked


def _check_classify(model, images, num_classes):
    assert model.output_shape == (None, num_classes), f"output shape {model.output_shape}"


def _check_embed(model, images, num_classes):
    shape = model.get_layer("pooler").output.shape
    assert len(shape) == 2 and shape[-1], f"pooler output {shape} is not (batch, dim)"


def _check_grad_cam(model, images, num_classes):
    shape = model.get_layer("feature_map").output.shape
    assert len(shape) == 4, f"feature_map output {shape} is not (batch, h, w, c)"


def _check_attention_maps(model, images, num_classes):
    names = [layer.name for layer in model.layers if layer.name.startswith("attention_maps")]
    assert names, 'declares attention_maps but has no layer named "attention_maps*"'
    for name in names:
        shape = model.get_layer(name).output.shape
        assert len(shape) == 4, f"{name} output {shape} is not (batch, h, w, maps)"


def _check_glimpse_boxes(model, images, num_classes):
    layer = model.get_layer("glimpse_boxes")
    shape = layer.output.shape
    assert len(shape) == 3 and shape[-1] == 4, f"glimpse_boxes output {shape} is not (b, n, 4)"
    boxes = np.asarray(keras.Model(model.input, layer.output)(images, training=False))
    assert np.all((boxes >= 0.0) & (boxes <= 1.0)), "glimpse boxes leave [0, 1]"
    assert np.all(boxes[..., :2] <= boxes[..., 2:]), "glimpse boxes are not ordered"


def _check_level_logits(model, images, num_classes):
    names = [layer.name for layer in model.layers if layer.name.startswith("level_logits_")]
    assert names, 'declares level_logits but has no layer named "level_logits_*"'
    for name in names:
        shape = model.get_layer(name).output.shape
        assert len(shape) == 2, f"{name} output {shape} is not (batch, nodes)"
    last = model.get_layer(names[-1]).output
    assert last is model.outputs[0], f"{names[-1]} is not the main output"


def _check_multi_pass(model, images, num_classes):
    assert callable(getattr(model, "train_losses", None)), "no train_losses method"
    assert callable(getattr(model, "trainable_groups", None)), "no trainable_groups method"


def _check_mixing(model, images, num_classes):
    from fgkeras.training.trainer import Trainer

    trainer = Trainer(model)
    trainer.compile(
        keras.optimizers.SGD(1e-3),
        keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    soft = np.full((len(images), num_classes), 1.0 / num_classes, "float32")
    logs = trainer.train_on_batch(images, soft, return_dict=True)
    assert np.isfinite(logs["loss"]), f"loss on soft labels is {logs['loss']}"


def _check_attribute_logits(model, images, num_classes):
    layer = model.get_layer("attribute_logits")
    shape = layer.output.shape
    assert len(shape) == 2 and shape[-1], f"attribute_logits output {shape} is not (batch, A)"
    logits = np.asarray(keras.Model(model.input, layer.output)(images, training=False))
    assert np.all(np.isfinite(logits)), "attribute logits are not finite"


def _check_text_embedding(model, images, num_classes):
    from fgkeras.models.image_text import with_descriptions

    texts = model.embed_text(["a bird", "a red bird with blue wings"])
    image_embedding = keras.Model(model.input, model.get_layer("embedding").output)(images)
    assert tuple(texts.shape) == (2, image_embedding.shape[-1]), f"text embeddings {texts.shape}"
    norms = np.linalg.norm(np.asarray(texts), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4), f"text embeddings are not unit vectors: {norms}"
    other = with_descriptions(model, ["a bird", "a red bird", "a blue bird"])
    scores = np.asarray(other(images, training=False))
    assert scores.shape == (len(images), 3) and np.all(np.isfinite(scores))


def _check_zero_shot(model, images, num_classes):
    from fgkeras.layers.label_embedding import AttributeCompatibility

    head = model.get_layer("predictions")
    assert isinstance(head, AttributeCompatibility), "predictions is not AttributeCompatibility"
    pooled = keras.Model(model.input, model.get_layer("pooler").output)(images, training=False)
    other_classes = random_inputs((num_classes + 2, head.attribute_dim), low=0.0, high=1.0)
    scores = np.asarray(head.scores(pooled, other_classes))
    assert scores.shape == (len(images), num_classes + 2), f"scores of shape {scores.shape}"
    assert np.all(np.isfinite(scores)), "zero-shot scores are not finite"


def _check_side_input(model, images, num_classes):
    import tensorflow as tf

    width = side_inputs(model).get("attributes")
    assert width, 'no second input named "attributes" of shape (batch, A)'
    unknown = np.full((len(images), width), np.nan, "float32")
    alone = np.asarray(model(images, training=False))
    with_nan = np.asarray(model({"image": images, "attributes": unknown}, training=False))
    np.testing.assert_allclose(alone, with_nan, atol=1e-5, err_msg="images alone != unknown side")
    known = (random_inputs((len(images), width), seed=2) > 0.5).astype("float32")

    def gradients(side):
        with tf.GradientTape() as tape:
            logits = model({"image": images, "attributes": side}, training=False)
            loss = tf.reduce_sum(logits)
        return tape.gradient(loss, model.trainable_weights)

    differ = any(
        not np.allclose(np.asarray(a), np.asarray(b))
        for a, b in zip(gradients(known), gradients(unknown))
        if a is not None and b is not None
    )
    assert differ, "a known side vector changes no gradient: the side input is ignored"


CAPABILITY_CHECKS = {
    "classify": _check_classify,
    "embed": _check_embed,
    "grad_cam": _check_grad_cam,
    "attention_maps": _check_attention_maps,
    "glimpse_boxes": _check_glimpse_boxes,
    "level_logits": _check_level_logits,
    "multi_pass": _check_multi_pass,
    "mixing": _check_mixing,
    "attribute_logits": _check_attribute_logits,
    "text_embedding": _check_text_embedding,
    "zero_shot": _check_zero_shot,
    "side_input": _check_side_input,
}
