"""Recurrent family: lstm_attention (values, explanations, the attention penalty in training)."""

import keras
import numpy as np
import pytest

import fgkeras
from fgkeras.inference.explanations import explain
from fgkeras.testing import random_inputs
from fgkeras.training.trainer import Trainer

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}
SMALL = {"units": 16, "attention_units": 8}
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def lstm_attention(**kwargs):
    return fgkeras.build("lstm_attention", num_classes=3, **TINY, **SMALL, **kwargs)


def probe(model, names, x):
    """Outputs of the named layers (a list of arrays for a multi-output layer)."""
    outputs = keras.Model(model.input, [model.get_layer(n).output for n in names])(
        x, training=False
    )
    return keras.tree.map_structure(np.asarray, outputs)


@pytest.mark.parametrize("steps", [1, 3])
def test_one_named_map_per_step(steps):
    model = lstm_attention(steps=steps)
    names = [f"attention_maps_step{t}" for t in range(1, steps + 1)]
    attention_layers = [layer.name for layer in model.layers if layer.name.startswith("attention")]
    assert attention_layers == [*names, "attention_penalty"]
    x = random_inputs((2, 32, 32, 3), high=255.0)
    *maps, (sequence, stacked), pooled = probe(model, [*names, "recurrent_attention", "pooler"], x)
    assert sequence.shape == (2, steps, 16 + 128) and stacked.shape == (2, 8, 8, steps)
    for t, step_map in enumerate(maps):
        assert step_map.shape == (2, 8, 8, 1)
        np.testing.assert_allclose(step_map.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)
        np.testing.assert_allclose(step_map[..., 0], stacked[..., t], atol=1e-7)
    # "final" readout: the pooler is r_T = [h_T, z_T] (LSTM units + backbone channels).
    np.testing.assert_allclose(pooled, sequence[:, -1], atol=1e-6)


def test_mean_logits_readout_averages_the_per_step_logits():
    model = lstm_attention(readout="mean_logits", dropout=0.2)
    x = random_inputs((2, 32, 32, 3), seed=1, high=255.0)
    (sequence, _), pooled = probe(model, ["recurrent_attention", "pooler"], x)
    head = model.get_layer("predictions")
    per_step = sequence @ np.asarray(head.kernel) + np.asarray(head.bias)
    logits = np.asarray(model(x, training=False))
    np.testing.assert_allclose(logits, per_step.mean(axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pooled, sequence.mean(axis=1), rtol=1e-5, atol=1e-6)


def test_explain_draws_one_overlay_per_step(tmp_path):
    model = lstm_attention(steps=3)
    rows = explain(model, random_inputs((1, 32, 32, 3), high=255.0), str(tmp_path))
    methods = [row["method"] for row in rows]
    assert methods == ["grad_cam", *(f"attention_maps_step{t}" for t in (1, 2, 3))]
    assert all((tmp_path / f"image0_{m}.png").exists() for m in methods)


def test_attention_penalty_is_a_model_loss_and_is_trained():
    model = lstm_attention(attention_penalty=0.5, reduce_channels=8)
    x = random_inputs((2, 32, 32, 3), seed=2, high=255.0)
    y = np.array([0, 2])
    maps = probe(model, [f"attention_maps_step{t}" for t in (1, 2, 3)], x)
    coverage = sum(m.astype("float64") for m in maps)
    expected = 0.5 * ((1.0 - coverage) ** 2).sum(axis=(1, 2, 3)).mean()
    logits = model(x, training=False)
    assert len(model.losses) == 1
    np.testing.assert_allclose(float(model.losses[0]), expected, rtol=1e-5)
    # The zoo's training step (Trainer -> gradient_step -> compiled loss) adds it.
    trainer = Trainer(model)
    trainer.compile(keras.optimizers.SGD(0.0), CE)
    logs = trainer.test_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose(logs["loss"], float(CE(y, logits)) + expected, rtol=1e-4)
    logs = trainer.train_on_batch(x, y, return_dict=True)
    train_logits = model(x, training=True)  # training=True: BatchNorm uses batch statistics
    total = float(CE(y, train_logits)) + float(model.losses[0])
    np.testing.assert_allclose(logs["loss"], total, rtol=1e-4)


def test_no_penalty_no_loss():
    model = lstm_attention()
    model(random_inputs((1, 32, 32, 3), high=255.0))
    assert model.losses == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"readout": "mean"}, "readout"),
        ({"steps": 0}, "steps"),
        ({"attention_penalty": -0.1}, "attention_penalty"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lstm_attention(**kwargs)
