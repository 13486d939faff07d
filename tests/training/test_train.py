import csv
import json
import os

import keras
import numpy as np
import pytest

import fgkeras
from fgkeras.training import run as training
from fgkeras.training.run import DivergenceError, train
from fgkeras.training.step import is_multi_pass

TINY = dict(
    source="synthetic",
    backbone="tiny",
    weights=None,
    image_size=32,
    batch_size=16,
    limit=96,
    augment="none",
    verbose=0,
)


def read_history(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as file:
        return list(csv.DictReader(file))


def test_run_directory_contents(tmp_path):
    result = train("baseline", run_dir=str(tmp_path), epochs=2, **TINY)
    for name in (
        "config.json",
        "class_names.json",
        "history.csv",
        "model.keras",
        "best.keras",
        "last.keras",
        "metrics.json",
        "backbone.weights.h5",
        "backbone.json",
    ):
        assert (tmp_path / name).exists(), name
    assert not (tmp_path / "backup").exists()
    assert [row["epoch"] for row in read_history(tmp_path)] == ["0", "1"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"] == "baseline" and config["epochs"] == 2
    assert json.loads((tmp_path / "class_names.json").read_text()) == result.class_names
    loaded = keras.models.load_model(tmp_path / "model.keras")
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), result.model.predict(x, verbose=0), atol=1e-5
    )


def test_a_run_is_the_pretrained_backbone_of_the_next(tmp_path):
    """Pretrain `baseline`, then fine-tune `bcnn` from its run directory through the
    CLI; a frozen backbone phase keeps the pretrained weights exactly."""
    from fgkeras.cli.main import main

    pretrain = train("baseline", run_dir=str(tmp_path / "pretrain"), epochs=1, **TINY)
    info = json.loads((tmp_path / "pretrain" / "backbone.json").read_text())
    assert info["backbone"] == "tiny" and info["input_shape"] == [32, 32, 3]
    code = main(["train", "bcnn", "--source", "synthetic", "--backbone", "tiny",
                 "--weights", str(tmp_path / "pretrain"), "--image-size", "32",
                 "--epochs", "1", "--freeze-epochs", "1", "--limit", "32", "--batch-size", "16",
                 "--run-dir", str(tmp_path / "finetune"), "--verbose", "0"])  # fmt: skip
    assert code == 0
    tuned = keras.models.load_model(tmp_path / "finetune" / "model.keras")
    before = pretrain.model.get_layer("backbone").get_weights()
    after = tuned.get_layer("backbone").get_weights()
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_resume_after_interruption_loses_no_epoch(tmp_path, monkeypatch):
    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated kill after epoch 2")

    original = training._callbacks
    monkeypatch.setattr(training, "_callbacks", lambda *a: original(*a) + [Crash()])
    with pytest.raises(KeyboardInterrupt):
        train("baseline", run_dir=str(tmp_path), epochs=4, **TINY)
    assert (tmp_path / "backup").exists()
    epochs_run = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs_run.append(epoch)

    monkeypatch.setattr(training, "_callbacks", lambda *a: original(*a) + [Record()])
    train("baseline", run_dir=str(tmp_path), epochs=4, **TINY)
    # Epoch index 1 raised in on_epoch_end, after BackupAndRestore saved it.
    assert epochs_run == [2, 3]
    assert [row["epoch"] for row in read_history(tmp_path)] == ["0", "1", "2", "3"]


def test_resume_with_different_arguments_is_refused(tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "state.json").write_text("{}")
    (tmp_path / "config.json").write_text(json.dumps({"model": "bcnn"}))
    with pytest.raises(ValueError, match="interrupted run with different arguments"):
        train("baseline", run_dir=str(tmp_path), epochs=1, **TINY)


def test_nan_loss_stops_with_a_clear_message(tmp_path):
    with pytest.raises(DivergenceError, match="loss became nan at epoch 1") as error:
        train(
            "baseline",
            run_dir=str(tmp_path),
            epochs=2,
            optimizer="sgd",
            learning_rate=1e30,
            schedule="constant",
            **TINY,
        )
    assert "Lower the learning rate" in str(error.value)


def _backbone_and_head(model):
    backbone = [np.array(w) for w in model.get_layer("backbone").trainable_weights]
    head = [np.array(w) for w in model.get_layer("predictions").weights]
    return backbone, head


@pytest.fixture
def initial_weights(monkeypatch):
    """Record the backbone and head weights of the model `train` builds."""
    before = {}
    original_build = training.build

    def spy_build(*args, **kwargs):
        model = original_build(*args, **kwargs)
        before["weights"] = _backbone_and_head(model)
        return model

    monkeypatch.setattr(training, "build", spy_build)
    return before


def test_frozen_backbone_phase_trains_only_the_head(tmp_path, initial_weights):
    before = initial_weights
    result = train("bcnn", run_dir=str(tmp_path), epochs=1, freeze_epochs=1, **TINY)
    result.model.get_layer("backbone").trainable = True
    backbone, head = _backbone_and_head(result.model)
    for old, new in zip(before["weights"][0], backbone):
        np.testing.assert_array_equal(old, new)
    assert any(not np.allclose(old, new) for old, new in zip(before["weights"][1], head))


def test_backbone_learning_rate_multiplier(tmp_path, initial_weights):
    before = initial_weights
    result = train(
        "baseline",
        run_dir=str(tmp_path),
        epochs=1,
        backbone_lr_multiplier=0.0,
        optimizer="sgd",
        weight_decay=0.0,
        **TINY,
    )
    backbone, head = _backbone_and_head(result.model)
    for old, new in zip(before["weights"][0], backbone):
        np.testing.assert_allclose(old, new)
    assert any(not np.allclose(old, new) for old, new in zip(before["weights"][1], head))


def test_config_file_fills_unset_arguments(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"epochs": 1, "label_smoothing": 0.1}))
    result = train("baseline", run_dir=str(tmp_path / "run"), config=str(config), **TINY)
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["epochs"] == 1 and stored["label_smoothing"] == 0.1
    assert len(read_history(result.run_dir)) == 1


def test_config_file_with_unknown_argument(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"epochz": 1}))
    with pytest.raises(ValueError, match="Unknown arguments in config file.*epochz"):
        train("baseline", run_dir=str(tmp_path / "run"), config=str(config), **TINY)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model": "bcn"}, "Did you mean: bcnn"),
        ({"optimizer": "adam2"}, "optimizer"),
        ({"epochs": 0}, "epochs"),
        ({"freeze_epochs": 5, "epochs": 2}, "freeze_epochs"),
        ({"mixed_precision": "fp8"}, "mixed_precision"),
    ],
)
def test_bad_arguments_fail_before_any_work(tmp_path, kwargs, message):
    arguments = {"model": "baseline", "run_dir": str(tmp_path / "r"), **TINY, **kwargs}
    with pytest.raises(ValueError, match=message):
        train(**arguments)
    assert not (tmp_path / "r").exists()


def test_mixed_precision_keeps_float32_logits(tmp_path):
    try:
        result = train(
            "baseline", run_dir=str(tmp_path), epochs=1, mixed_precision="mixed_bfloat16", **TINY
        )
        assert result.model.get_layer("predictions").dtype_policy.compute_dtype == "float32"
        assert result.model.get_layer("feature_map").compute_dtype == "bfloat16"
        assert np.isfinite(result.history["loss"][0])
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.large
@pytest.mark.skipif(
    not os.path.exists("/usr/share/datasets/fashion-mnist") and os.environ.get("CI") != "true",
    reason="Fashion-MNIST Debian package not installed (under CI=true this test runs and fails)",
)
def test_training_learns_fashion_mnist_tops(tmp_path):
    """End to end on real data: 4 near-identical garment classes, chance is 0.25."""
    result = fgkeras.training.run.train(
        "baseline",
        source="fashion_mnist_tops",
        run_dir=str(tmp_path),
        backbone="tiny",
        weights=None,
        image_size=28,
        batch_size=64,
        epochs=2,
        limit=2048,
        augment="none",
        learning_rate=3e-3,
        verbose=0,
    )
    assert result.metrics["top1_accuracy"] > 0.6


def test_multi_pass_models_train_their_extra_passes_through_the_trainer(tmp_path):
    """`fgkeras.train` must run WS-DAN's crop/drop passes and center loss."""
    result = train("ws_dan", run_dir=str(tmp_path), epochs=1, **TINY)
    assert is_multi_pass(result.model)
    assert "center_loss" in result.history
    assert np.isfinite(result.history["center_loss"][0])
    assert result.history["center_loss"][0] > 0


def test_multi_pass_models_honour_a_backbone_multiplier(tmp_path):
    """Per-layer learning rates work for multi-pass models too (here: a frozen rate)."""
    keras.utils.set_random_seed(0)
    net = fgkeras.build("ws_dan", num_classes=8, backbone="tiny", weights=None,
                        input_shape=(32, 32, 3))  # fmt: skip
    before = [w.numpy().copy() for w in net.get_layer("backbone").trainable_weights]
    result = train(
        "ws_dan",
        run_dir=str(tmp_path),
        epochs=1,
        backbone_lr_multiplier=0.0,
        optimizer="sgd",
        weight_decay=0.0,
        **TINY,
    )
    after = [w.numpy() for w in result.model.get_layer("backbone").trainable_weights]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    assert np.abs(result.model.get_layer("predictions").get_weights()[0]).sum() > 0


def test_multi_pass_models_refuse_mixing_saying_why(tmp_path):
    with pytest.raises(ValueError, match="need integer labels"):
        train("ws_dan", run_dir=str(tmp_path), epochs=1, mixing="mixup", **TINY)
    assert not (tmp_path / "config.json").exists()  # refused before any work


def test_augmentation_runs_inside_the_step_for_multi_pass_models(tmp_path, monkeypatch):
    """The policy is applied by the Trainer on the device, not in tf.data."""
    calls = []
    original = fgkeras.training.step.augment_inputs

    def spy(augmenter, x):
        calls.append(getattr(x, "shape", None))
        return original(augmenter, x)

    monkeypatch.setattr(fgkeras.training.step, "augment_inputs", spy)
    options = {**TINY, "augment": "light"}
    train("ma_cnn", run_dir=str(tmp_path), epochs=1, **options)
    assert calls and calls[0][1:] == (32, 32, 3)


def test_explicit_argument_equal_to_the_default_beats_the_config_file(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"epochs": 2, "optimizer": "sgd"}))
    train("baseline", run_dir=str(tmp_path / "run"), config=str(config), optimizer="adamw",
          epochs=1, **TINY)  # fmt: skip
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["optimizer"] == "adamw" and stored["epochs"] == 1


def test_unknown_option_names_close_matches():
    with pytest.raises(ValueError, match="Did you mean: epochs"):
        train("baseline", epoch=2)


def test_best_checkpoint_follows_the_cards_monitor(tmp_path, monkeypatch):
    seen = []
    original = training._callbacks

    def spy(run_dir, phase, chief, monitor):
        seen.append(monitor)
        return original(run_dir, phase, chief, monitor)

    monkeypatch.setattr(training, "_callbacks", spy)
    train("baseline", run_dir=str(tmp_path), epochs=1, **TINY)
    assert seen == [fgkeras.model_card("baseline")["monitor"]] == ["val_accuracy"]
