"""The few private Keras APIs fgkeras relies on, in one place.

Custom training steps (`fgkeras.training.step`) must do what Keras'
own TensorFlow ``train_step`` does: compute the compiled loss (plus the
layers' regularization losses) and update the loss tracker that ``fit``
reports as ``loss``. Keras 3 exposes neither publicly, so they are reached
here, and ``tests/training/test_keras_internals.py`` fails loudly, naming
the attribute, when a Keras upgrade renames one.
"""

from __future__ import annotations

import keras

# The private attributes used below; the test checks each exists.
PRIVATE_ATTRIBUTES = (
    (keras.Model, "_compute_loss"),
    (keras.Model, "_maybe_symbolic_build"),
    (keras.Model, "_symbolic_build"),
)


def compiled_loss(model: keras.Model, x, y, y_pred, sample_weight=None):
    """The compiled loss of ``model`` (and its layers' added losses), as in ``fit``.

    >>> import numpy as np
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> m.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> y_pred = np.array([[0.0, 0.0]], "float32")
    >>> round(float(compiled_loss(m, None, np.array([1]), y_pred)), 4)
    0.6931
    """
    return model._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)


def loss_tracker(model: keras.Model):
    """The `keras.metrics.Mean` that ``fit`` reports as "loss".

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> m.compile(loss="mse")
    >>> loss_tracker(m).name
    'loss'
    """
    return model._loss_tracker


def learning_rate_schedule(optimizer):
    """The optimizer's learning rate as given: a float variable or a schedule object.

    (``optimizer.learning_rate`` evaluates a schedule at the current step.)

    >>> schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=10)
    >>> learning_rate_schedule(keras.optimizers.SGD(schedule)) is schedule
    True
    """
    return optimizer._learning_rate


def default_symbolic_build(model: keras.Model, iterator=None, data_batch=None):
    """Keras' own first-batch build of metrics (`Model._maybe_symbolic_build`)."""
    return keras.Model._maybe_symbolic_build(model, iterator=iterator, data_batch=data_batch)


def symbolic_build(model: keras.Model, data_batch):
    """Build the compiled metrics from one batch (`Model._symbolic_build`)."""
    return model._symbolic_build(data_batch=data_batch)
