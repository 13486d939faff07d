"""Weight averaging (``ema_momentum``): the saved, checkpointed and evaluated weights
are the exponential moving average of the raw weights, also across a resume."""

import json
import os

import keras
import numpy as np
import pytest

from fgkeras.training import run as training
from fgkeras.training.config import TrainConfig
from fgkeras.training.run import train

TINY = dict(
    source="synthetic",
    backbone="tiny",
    weights=None,
    image_size=32,
    batch_size=16,
    limit=32,  # 2 steps per epoch
    augment="none",
    optimizer="sgd",
    learning_rate=0.05,
    verbose=0,
)
MOMENTUM = 0.5  # far from the last raw weights after a few steps, yet not the first ones


class RecordWeights(keras.callbacks.Callback):
    """The zoo model's raw trainable weights after every training step, one list per fit."""

    def __init__(self, fits):
        super().__init__()
        self.fits = fits

    def on_train_begin(self, logs=None):
        self.fits.append([])

    def on_train_batch_end(self, batch, logs=None):
        net = self.model.model
        self.fits[-1].append({w.path: keras.ops.convert_to_numpy(w) for w in net.trainable_weights})


def record_weights(monkeypatch, fits, extra=()):
    original = training._callbacks
    monkeypatch.setattr(
        training, "_callbacks", lambda *a: original(*a) + [RecordWeights(fits), *extra]
    )


def numpy_ema(trajectory, momentum):
    """Keras' average: the weights after the first step, then m * average + (1 - m) * weights."""
    average = {key: value.astype(np.float64) for key, value in trajectory[0].items()}
    for weights in trajectory[1:]:
        average = {k: momentum * average[k] + (1 - momentum) * weights[k] for k in average}
    return average


def weights_by_path(model):
    return {w.path: keras.ops.convert_to_numpy(w) for w in model.trainable_weights}


def assert_weights_equal(got, want):
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)


def cross_entropy_of_predictions(run_dir):
    """Mean cross-entropy of the final model's saved validation logits (predictions.npz)."""
    with np.load(os.path.join(run_dir, "predictions.npz")) as data:
        labels, logits = data["labels"], data["scores"].astype(np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(labels)), labels].mean())


def last_history_row(run_dir):
    import csv

    with open(os.path.join(run_dir, "history.csv")) as file:
        return list(csv.DictReader(file))[-1]


@pytest.mark.parametrize(
    "options",
    [{}, {"backbone_lr_multiplier": 0.5}, {"freeze_epochs": 1}],
    ids=["one_optimizer", "backbone_multiplier", "freeze_epochs"],
)
def test_saved_weights_are_the_moving_average_of_the_steps(tmp_path, monkeypatch, options):
    fits = []
    record_weights(monkeypatch, fits)
    result = train(
        "baseline", run_dir=str(tmp_path), epochs=2, ema_momentum=MOMENTUM, **options, **TINY
    )
    trajectory = fits[-1]  # each phase has its own optimizer, hence its own average
    assert len(trajectory) == (2 if options.get("freeze_epochs") else 4)
    if options.get("freeze_epochs"):
        result.model.get_layer("backbone").trainable = True  # compare every weight
    want = numpy_ema(trajectory, MOMENTUM)
    assert_weights_equal(weights_by_path(result.model), want)
    raw = trajectory[-1]
    assert max(np.abs(raw[k] - want[k]).max() for k in want) > 1e-4  # not the last step's
    for name in ("model.keras", "last.keras"):
        saved = keras.models.load_model(tmp_path / name)
        saved.trainable = True
        assert_weights_equal(weights_by_path(saved), want)
    # Validation ran on the averaged weights: the last epoch's val_loss is the
    # cross-entropy of the final (averaged) model's logits in predictions.npz.
    row = last_history_row(tmp_path)
    assert float(row["val_loss"]) == pytest.approx(cross_entropy_of_predictions(tmp_path), 1e-4)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert float(row["val_accuracy"]) == pytest.approx(metrics["top1_accuracy"], abs=1e-6)


def test_resume_carries_the_average_on(tmp_path, monkeypatch):
    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated kill after epoch 2")

    fits = []
    record_weights(monkeypatch, fits, extra=[Crash()])
    with pytest.raises(KeyboardInterrupt):
        train("baseline", run_dir=str(tmp_path), epochs=4, ema_momentum=MOMENTUM, **TINY)
    assert (tmp_path / "backup").exists()
    monkeypatch.undo()  # no more crash
    record_weights(monkeypatch, fits)
    result = train("baseline", run_dir=str(tmp_path), epochs=4, ema_momentum=MOMENTUM, **TINY)
    first, resumed = fits
    assert len(first) == 4 and len(resumed) == 4  # epochs 0-1, then 2-3
    # The backup restored the raw weights (the resumed run's first step starts from
    # them) and the optimizer's average and step count: the average runs on over 8 steps.
    want = numpy_ema(first + resumed, MOMENTUM)
    assert_weights_equal(weights_by_path(result.model), want)
    assert not (tmp_path / "backup").exists()


def test_ema_momentum_is_checked_and_a_flag():
    from fgkeras.cli.main import build_parser

    for bad in (1.0, 0.0, -0.1, "0.9", True):
        with pytest.raises(ValueError, match="ema_momentum"):
            TrainConfig.resolve(ema_momentum=bad)
    assert TrainConfig.resolve().ema_momentum is None
    args = build_parser().parse_args(["train", "baseline", "--ema-momentum", "0.999"])
    assert args.ema_momentum == 0.999
    assert TrainConfig.resolve(ema_momentum=0.999).record()["ema_momentum"] == 0.999


def test_an_average_longer_than_the_training_is_warned_about():
    with pytest.warns(UserWarning, match="averages over about 1000 steps"):
        options = training._ema_options(0.999, steps=40)
    assert options == {"use_ema": True, "ema_momentum": 0.999}
    assert training._ema_options(None, steps=40) == {}
