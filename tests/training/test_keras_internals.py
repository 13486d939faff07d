"""Loud failure when a Keras upgrade renames a private API fgkeras relies on."""

import keras
import numpy as np
import pytest

from fgkeras.training import keras_internals


@pytest.mark.parametrize(("owner", "name"), keras_internals.PRIVATE_ATTRIBUTES)
def test_private_keras_attribute_still_exists(owner, name):
    assert hasattr(owner, name), (
        f"Keras {keras.__version__} has no {owner.__name__}.{name}; update "
        "fgkeras/training/keras_internals.py"
    )


def test_compiled_loss_and_tracker_behave_as_fgkeras_expects():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    y_pred = np.log(np.array([[0.25, 0.75]], "float32"))
    loss = float(keras_internals.compiled_loss(model, None, np.array([1]), y_pred))
    assert loss == pytest.approx(-np.log(0.75), rel=1e-5)
    tracker = keras_internals.loss_tracker(model)
    tracker.update_state(2.0)
    assert isinstance(tracker, keras.metrics.Mean) and float(tracker.result()) == 2.0


def test_learning_rate_schedule_is_the_object_given():
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=10)
    assert keras_internals.learning_rate_schedule(keras.optimizers.AdamW(schedule)) is schedule
    rate = keras_internals.learning_rate_schedule(keras.optimizers.SGD(0.5))
    assert float(keras.ops.convert_to_numpy(rate)) == 0.5
