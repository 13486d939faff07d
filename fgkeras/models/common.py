"""Pieces shared by the model families: the backbone stem, channel reduction, inputs, the
walk over nested layers."""

import keras
from keras import layers

from fgkeras.checks import check_int
from fgkeras.models.backbones import build_backbone


def backbone_feature_map(
    inputs,
    backbone: str,
    weights,
    freeze_backbone: bool = False,
    stream: str = "",
):
    """Run a backbone sub-model on ``inputs``; return its map as "feature_map".

    The sub-model is named "backbone" (or "backbone_b" for a second stream),
    so the two-phase recipe can freeze it with one switch:
    ``model.get_layer("backbone").trainable = False``.

    Args:
        inputs: the model's raw-pixel `keras.Input`.
        backbone: a name from `fgkeras.models.backbones.list_backbones()`.
        weights: "imagenet", None or a weights file path.
        freeze_backbone: build it with ``trainable=False``. Defaults to False.
        stream: "" for the first stream, "b" for a second. Defaults to "".

    >>> x = keras.Input((32, 32, 3))
    >>> backbone_feature_map(x, "tiny", weights=None).shape
    (None, 8, 8, 128)
    """
    suffix = f"_{stream}" if stream else ""
    extractor = build_backbone(
        backbone, tuple(inputs.shape[1:]), weights=weights, model_name=f"backbone{suffix}"
    )
    extractor.trainable = not freeze_backbone
    return layers.Identity(name=f"feature_map{suffix}")(extractor(inputs))


def channel_reduction(feature_map, channels, name="channel_reduction"):
    """Optional 1×1 convolution + BN + ReLU to ``channels`` (None: unchanged).

    >>> x = keras.Input((7, 7, 512))
    >>> channel_reduction(x, 64).shape
    (None, 7, 7, 64)
    """
    if channels is None:
        return feature_map
    check_int("reduce_channels", channels)
    x = layers.Conv2D(channels, 1, use_bias=False, name=name)(feature_map)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def model_input(input_shape):
    """The raw-pixel input every model takes, named "image" like the data feature."""
    if len(tuple(input_shape)) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels). Received: input_shape={input_shape}"
        )
    return keras.Input(tuple(input_shape), name="image")


def model_inputs(model, x):
    """What ``model`` takes from a batch's inputs ``x``.

    Sources loaded with ``features=(...)`` give ``{"image": ..., "attributes":
    ..., ...}`` dicts; a model whose only input is the image gets
    ``x["image"]``, a model with several named inputs the entries it names;
    anything else passes through.

    >>> import keras, numpy as np
    >>> net = keras.Sequential([keras.Input((2,), name="image"), keras.layers.Identity()])
    >>> model_inputs(net, {"image": np.ones((1, 2)), "attributes": np.zeros((1, 3))}).shape
    (1, 2)
    """
    if not isinstance(x, dict):
        return x
    names = [tensor.name for tensor in getattr(model, "inputs", None) or []]
    if len(names) == 1 and "image" in x:
        return x["image"]
    if names and all(name in x for name in names):
        return {name: x[name] for name in names}
    return x


def image_input_shape(model) -> tuple:
    """``(height, width, channels)`` of the model's image input (its only input, or
    the one named "image").

    >>> image_input_shape(keras.Sequential([keras.Input((8, 6, 3)), keras.layers.Flatten()]))
    (8, 6, 3)
    """
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) > 1:
        return tuple(next(t for t in inputs if t.name == "image").shape[1:])
    return tuple(model.input_shape[1:])


def side_inputs(model) -> dict:
    """``{name: width}`` of a model's inputs besides the image: side vectors
    known at inference time (NaN marks an unknown entry).

    >>> import keras
    >>> image, side = keras.Input((8, 8, 3), name="image"), keras.Input((4,), name="attributes")
    >>> net = keras.Model([image, side], keras.layers.Concatenate()(
    ...     [keras.layers.GlobalAveragePooling2D()(image), side]))
    >>> side_inputs(net)
    {'attributes': 4}
    """
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) < 2 or "image" not in [tensor.name for tensor in inputs]:
        return {}  # a one-input model (whatever its input's name and rank) has none
    return {
        tensor.name: int(tensor.shape[-1])
        for tensor in inputs
        if tensor.name != "image" and len(tensor.shape) == 2
    }


def with_side_inputs(model, x, side=None):
    """What a model with side inputs takes, from images alone or a feature dict.

    Side inputs missing from ``x`` come from ``side`` (``{name: values}``, or
    the values of the only side input), else are unknown: all NaN. A side
    vector of one row applies to every image of the batch. A model without
    side inputs gets ``x`` back (its image, for a feature dict).

    >>> import keras, numpy as np
    >>> image, tags = keras.Input((2, 2, 3), name="image"), keras.Input((3,), name="attributes")
    >>> net = keras.Model([image, tags], tags)
    >>> x = with_side_inputs(net, np.zeros((2, 2, 2, 3), "float32"), side=[1.0, 0.0, np.nan])
    >>> keras.ops.convert_to_numpy(x["attributes"]).tolist()
    [[1.0, 0.0, nan], [1.0, 0.0, nan]]
    """
    wanted = side_inputs(model)
    if not wanted:
        return model_inputs(model, x)
    given = dict(x) if isinstance(x, dict) else {"image": x}
    if side is not None and not isinstance(side, dict):
        if len(wanted) != 1:
            raise ValueError(f"Pass side= as a dict keyed by the side inputs {sorted(wanted)}.")
        side = {next(iter(wanted)): side}
    batch = keras.ops.shape(given["image"])[0]
    for name, width in wanted.items():
        values = given.get(name, (side or {}).get(name))
        if values is None:
            values = keras.ops.full((batch, width), float("nan"))
        values = keras.ops.cast(keras.ops.convert_to_tensor(values), "float32")
        if len(values.shape) == 1:
            values = values[None, :]
        if values.shape[-1] is not None and int(values.shape[-1]) != width:
            raise ValueError(
                f"The side input {name!r} takes {width} values per image. Received "
                f"{int(values.shape[-1])}."
            )
        given[name] = keras.ops.broadcast_to(values, (batch, width))
    return {name: given[name] for name in ["image", *wanted]}


def nested_layers(model, prefix=""):
    """Every layer inside ``model``, in nested models and composite layers too, once each.

    Depth first, in the order of each model's ``layers`` (a composite
    layer's tracked sub-layers for layers that are not models). Yields
    ``(path, layer)``: ``path`` joins the names of the enclosing models
    with "/" (e.g. ``"backbone/tiny_stage1_conv1_bn"``). The one walk over a
    model's layers, for checks (no ``Lambda``, TFLite-convertible layers)
    and for AdaBN's BatchNormalization layers.

    >>> inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")], name="inner")
    >>> outer = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(1, name="out")])
    >>> [path for path, _ in nested_layers(outer)]
    ['inner', 'inner/d', 'out']
    """
    seen = set()

    def walk(layer, prefix):
        children = getattr(layer, "layers", None)
        if children is None:
            children = getattr(layer, "_layers", None) or []
        for child in children:
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = f"{prefix}{child.name}"
            yield path, child
            yield from walk(child, f"{path}/")

    yield from walk(model, prefix)
