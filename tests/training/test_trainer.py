import keras
import numpy as np
import pytest

import fgkeras
from fgkeras.training.trainer import ScaledSchedule, Trainer


def tiny_net():
    return fgkeras.build(
        "baseline", num_classes=3, backbone="tiny", weights=None, input_shape=(16, 16, 3)
    )


def data():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (8, 16, 16, 3)).astype("float32"), np.arange(8) % 3


@pytest.mark.parametrize("multiplier", [1.0, 0.5])
def test_logged_loss_is_the_cross_entropy(multiplier):
    net = tiny_net()
    x, y = data()
    expected = float(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, net(x, training=True))
    )
    keras.utils.set_random_seed(0)
    trainer = Trainer(tiny_net(), None, multiplier)
    trainer.model.set_weights(net.get_weights())
    trainer.compile(
        keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    assert (trainer.backbone_optimizer is not None) == (multiplier != 1.0)
    loss = trainer.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False).history["loss"][0]
    assert loss == pytest.approx(expected, rel=1e-4)


def test_backbone_learns_at_the_scaled_rate():
    x, y = data()
    trainer = Trainer(tiny_net(), None, 0.25)
    trainer.compile(
        keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    assert float(trainer.backbone_optimizer.learning_rate) == pytest.approx(0.025)
    kernel = trainer.model.get_layer("backbone").get_layer("tiny_stage1_conv1").kernel
    before = np.array(kernel)
    trainer.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.allclose(before, np.array(kernel))


def test_augmenter_runs_only_in_training():
    x, _ = data()
    trainer = Trainer(tiny_net(), keras.layers.RandomFlip("horizontal", seed=1))
    np.testing.assert_allclose(trainer(x), trainer.model(x, training=False), atol=1e-6)


def test_schedule_is_scaled_and_serializable():
    base = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=10)
    schedule = ScaledSchedule(base, 0.5)
    clone = ScaledSchedule.from_config(schedule.get_config())
    assert float(clone(5)) == pytest.approx(0.5 * float(base(5)))


def test_trainer_round_trips_through_keras_file(tmp_path):
    trainer = Trainer(tiny_net(), keras.layers.RandomFlip("horizontal"), 0.5)
    x, _ = data()
    trainer.build(x.shape)
    path = str(tmp_path / "trainer.keras")
    trainer.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.backbone_lr_multiplier == 0.5
    np.testing.assert_allclose(loaded(x), trainer(x), atol=1e-5)


def test_negative_multiplier_is_refused():
    with pytest.raises(ValueError, match="backbone_lr_multiplier"):
        Trainer(tiny_net(), None, -1.0)


@pytest.mark.parametrize(
    "multiplier, ema", [(1.0, None), (0.5, None), (0.5, 0.9)], ids=["one", "two", "two-ema"]
)
def test_training_step_is_traced_once(monkeypatch, multiplier, ema):
    """Every optimizer is built before `fit`: Keras (no distribution strategy) would
    build it inside the first traced step, and tf.function would then trace the
    whole step again. The step's Python body runs once per trace."""
    from fgkeras.training import trainer as trainer_module

    traces = []
    step = trainer_module.gradient_step
    monkeypatch.setattr(trainer_module, "gradient_step", lambda *a: traces.append(1) or step(*a))
    x, y = data()
    trainer = Trainer(tiny_net(), None, multiplier)
    trainer.compile(
        keras.optimizers.SGD(0.1, momentum=0.9, use_ema=ema is not None, ema_momentum=ema or 0.99),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    kernel = trainer.model.get_layer("backbone").get_layer("tiny_stage1_conv1").kernel
    before = np.array(kernel)
    trainer.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert len(traces) == 1
    assert not np.allclose(before, np.array(kernel))  # the backbone's optimizer ran
    assert int(trainer.optimizer.iterations) == 4
