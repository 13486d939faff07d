"""Unsupervised domain adaptation: re-estimate BatchNorm statistics on target images (AdaBN).

A BatchNormalization layer normalizes its input ``x`` with a moving mean
``mu`` and variance ``sigma^2`` estimated on the training (source) images:
``y = gamma (x - mu) / sqrt(sigma^2 + eps) + beta``. When the test (target)
images come from another distribution (another camera, light, noise level),
``x`` is no longer centred and scaled as the next layers expect. AdaBN
(Li, Wang, Shi, Liu and Hou, "Revisiting Batch Normalization For Practical
Domain Adaptation", 2016, https://arxiv.org/abs/1603.04779) keeps every
learned weight and replaces ``mu`` and ``sigma^2`` of each BatchNormalization
layer by the mean and variance of that layer's inputs over *unlabelled*
target images.

`adapt_batchnorm` computes these exactly: population statistics over all the
target images (not a momentum update from a few batches), one layer at a
time in the order the forward pass reaches them, so that each layer's
statistics are those of the inputs it receives once the layers before it are
adapted. `batchnorm_layers` lists the layers it changes, nested backbones
included.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np

from fgkeras.checks import check_int
from fgkeras.models.common import nested_layers

__all__ = ["adapt_batchnorm", "batchnorm_layers"]


def batchnorm_layers(model) -> list:
    """Every `keras.layers.BatchNormalization` layer of a model, nested models included.

    Args:
        model: a `keras.Model` (or layer).

    Returns:
        A list of ``(path, layer)``: ``path`` joins the names of the nested
        models with "/" (e.g. ``"backbone/tiny_stage1_conv1_bn"``), in the
        order of the models' layer lists; each layer appears once.

    >>> import fgkeras
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(16, 16, 3))
    >>> [path for path, _ in batchnorm_layers(net)][:2]
    ['backbone/tiny_stage1_conv1_bn', 'backbone/tiny_stage1_conv2_bn']
    """
    return [
        (path, layer)
        for path, layer in nested_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def adapt_batchnorm(model, data, *, batch_size=64, copy=True):
    """Re-estimate every BatchNormalization layer's moving mean and variance on target data.

    AdaBN (Li et al. 2016, https://arxiv.org/abs/1603.04779): the learned
    weights stay; each BatchNormalization layer's ``moving_mean`` and
    ``moving_variance`` become the mean and (biased, as BatchNormalization
    computes it) variance of the layer's inputs over all of ``data``, per
    channel, with the model run in inference mode. Layers are adapted one at
    a time in the order the forward pass reaches them (one pass over
    ``data`` per layer, cut short after that layer), so each layer's
    statistics are those of the inputs it receives from the already adapted
    layers before it. The passes run eagerly (not compiled). Statistics are
    accumulated in float64 (Chan et al.'s pairwise update), so the result
    does not depend on how ``data`` is batched. Labels are never used: pass
    unlabelled target images, distinct from the images you evaluate on.

    A layer called more than once per forward pass (a backbone run again on
    a crop, as in WS-DAN) gets the statistics of all its calls together; the
    crop itself may depend on layers adapted after it, so for such models the
    result is the first step of a fixed-point iteration (call again to
    refine).

    Args:
        model: a `keras.Model` with at least one BatchNormalization layer
            (nested sub-models, e.g. a zoo model's backbone, are searched).
        data: the target inputs: a NumPy array (or a dict of arrays, for
            models with several inputs) of raw images as the model takes
            them, or a batched `tf.data.Dataset` / iterable of batches, each
            either inputs or an ``(inputs, labels[, weights])`` tuple (the
            labels are ignored). Arrays are sliced and datasets re-read on
            each pass; a one-shot iterator (a generator) is read once and
            its batches kept in memory.
        batch_size: batch size used to split an array. Defaults to 64.
        copy: True adapts and returns a copy (``keras.models.clone_model``
            with the same weights) and leaves ``model`` untouched; False
            changes ``model``'s statistics in place and returns it.
            Defaults to True.

    Returns:
        The adapted model (a new one when ``copy`` is True).

    Raises:
        ValueError: the model has no BatchNormalization layer, or ``data``
            holds no images.

    >>> inputs = keras.Input((4, 4, 2))
    >>> net = keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(inputs))
    >>> target = np.random.default_rng(0).normal(3.0, 2.0, (50, 4, 4, 2)).astype("float32")
    >>> adapted = adapt_batchnorm(net, target)
    >>> np.allclose(adapted.get_layer("bn").moving_mean, target.mean(axis=(0, 1, 2)), atol=1e-5)
    True
    >>> np.asarray(net.get_layer("bn").moving_mean).tolist()  # the original is untouched
    [0.0, 0.0]
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"adapt_batchnorm needs a keras.Model. Received: model of type {type(model).__name__}"
        )
    batch_size = check_int("batch_size", batch_size)
    if not batchnorm_layers(model):
        raise ValueError(
            f"Model {model.name!r} has no BatchNormalization layer, so there are no "
            "statistics to adapt. AdaBN needs a backbone with BatchNormalization "
            "(e.g. backbone='tiny' or 'resnet50'; not 'vgg16')."
        )
    batches = _batches(data, batch_size)
    if copy:
        model = _clone(model)
    layers = [layer for _, layer in batchnorm_layers(model)]
    calls = _calls_per_pass(model, next(batches()), layers)
    for layer, count in calls.items():
        statistics = _Moments(layer, stop_after=count)
        with _recording(layer, statistics):
            for batch in batches():
                try:
                    model(batch, training=False)
                except _Enough:  # the rest of the pass cannot change this layer's inputs
                    pass
        mean, variance = statistics.result()
        layer.moving_mean.assign(mean.astype(layer.moving_mean.dtype))
        layer.moving_variance.assign(variance.astype(layer.moving_variance.dtype))
    return model


class _Moments:
    """Per-channel count, mean and sum of squared deviations, merged batch by batch."""

    def __init__(self, layer, stop_after=None):
        self.layer, self.stop_after, self.calls = layer, stop_after, 0
        self.count, self.mean, self.m2 = 0, None, None

    def add(self, inputs):
        self._add(inputs)
        self.calls += 1
        if self.stop_after and self.calls % self.stop_after == 0:
            raise _Enough()

    def _add(self, inputs):
        x = np.asarray(keras.ops.convert_to_numpy(inputs), np.float64)
        axis = self.layer.axis % x.ndim
        x = np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])
        count, mean = len(x), x.mean(axis=0)
        m2 = ((x - mean) ** 2).sum(axis=0)
        if self.mean is None:
            self.count, self.mean, self.m2 = count, mean, m2
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / total
        self.m2 = self.m2 + m2 + delta**2 * self.count * count / total
        self.count = total

    def result(self):
        if not self.count:
            raise ValueError(
                f"BatchNormalization layer {self.layer.name!r} was not reached by the "
                "forward pass, so its statistics cannot be re-estimated."
            )
        return self.mean, self.m2 / self.count


@contextlib.contextmanager
def _recording(layer, statistics):
    """Make ``layer`` hand each input to ``statistics`` before normalizing it."""
    original = layer.call

    def call(inputs, *args, **kwargs):
        statistics.add(inputs)
        return original(inputs, *args, **kwargs)

    layer.call = call  # an instance attribute: Layer.__call__ looks up self.call each time
    try:
        yield
    finally:
        del layer.call


class _Enough(BaseException):
    """Ends a forward pass once the layer being adapted has seen all its inputs.

    A BaseException, so that Keras' error handlers (``except Exception``)
    let it through unchanged.
    """


def _calls_per_pass(model, batch, layers) -> dict:
    """{layer: calls per forward pass} for the BatchNormalization layers, in call order."""
    calls = {}
    with contextlib.ExitStack() as stack:
        for layer in layers:
            stack.enter_context(_recording(layer, _Counter(layer, calls)))
        model(batch, training=False)
    missing = [layer.name for layer in layers if layer not in calls]
    if missing:
        raise ValueError(
            f"The forward pass of model {model.name!r} never reaches the BatchNormalization "
            f"layers {missing}, so their statistics cannot be re-estimated."
        )
    return calls


class _Counter:
    def __init__(self, layer, calls):
        self.layer, self.calls = layer, calls

    def add(self, inputs):
        self.calls[self.layer] = self.calls.get(self.layer, 0) + 1


def _batches(data, batch_size):
    """A function returning a fresh iterator over the model inputs of ``data``.

    Arrays are sliced and datasets re-read on every pass, so nothing is
    copied; a one-shot iterator (a generator) is kept in memory once.
    Labels are dropped and empty batches skipped.
    """
    if isinstance(data, dict) or (hasattr(data, "shape") and hasattr(data, "dtype")):
        items = data.items() if isinstance(data, dict) else [(None, data)]
        arrays = {key: np.asarray(value) for key, value in items}
        counts = {len(v) for v in arrays.values()}
        if len(counts) != 1:
            raise ValueError(
                "The arrays of `data` must hold the same number of images. Received "
                f"lengths {sorted(len(v) for v in arrays.values())}"
            )
        count = counts.pop() if counts else 0

        def passes():
            for start in range(0, count, batch_size):
                batch = {k: v[start : start + batch_size] for k, v in arrays.items()}
                yield batch[None] if None in batch else batch

    else:
        try:
            iterator = iter(data)
        except TypeError as error:
            raise ValueError(
                "`data` must be an array of images, a dict of arrays, or a dataset / "
                f"iterable of batches. Received: data of type {type(data).__name__}"
            ) from error
        if iterator is data:  # a one-shot iterator: keep its batches for the next passes
            data = list(iterator)

        def passes():
            for batch in data:
                batch = batch[0] if isinstance(batch, tuple | list) else batch
                if _length(batch):
                    yield batch

    if next(passes(), None) is None:
        raise ValueError(
            "`data` holds no images: AdaBN needs unlabelled target images to estimate "
            "the BatchNormalization statistics from."
        )
    return passes


def _length(batch) -> int:
    first = next(iter(batch.values())) if isinstance(batch, dict) else batch
    shape = getattr(first, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) else len(first)


def _clone(model):
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone
