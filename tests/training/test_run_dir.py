"""`RunDirectory`, the one reader of run directories, and `load_keras_model`."""

import json

import keras
import numpy as np
import pytest

from fgkeras.training.run_dir import RunDirectory, load_keras_model


def _model(value):
    inputs = keras.Input((2,))
    outputs = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros")(inputs)
    model = keras.Model(inputs, outputs)
    model.layers[-1].bias.assign([value])
    return model


@pytest.fixture
def run(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"source": "synthetic", "image_size": 32}))
    (tmp_path / "class_names.json").write_text(json.dumps(["a", "b"]))
    for name, value in (("model.keras", 1.0), ("last.keras", 2.0), ("best.keras", 3.0)):
        _model(value).save(tmp_path / name)
    return tmp_path


@pytest.mark.parametrize(("checkpoint", "value"), [("final", 1.0), ("last", 2.0), ("best", 3.0)])
def test_each_checkpoint_loads_its_own_file(run, checkpoint, value):
    model = RunDirectory(run).load_model(checkpoint)
    assert float(model(np.zeros((1, 2), "float32"))[0, 0]) == value


def test_last_falls_back_to_the_final_model(run):
    (run / "last.keras").unlink()
    assert RunDirectory(run).model_path("last").endswith("model.keras")


def test_config_names_and_data_options(run):
    directory = RunDirectory(run)
    assert directory.class_names == ["a", "b"]
    options = directory.data_options()
    assert options["source"] == "synthetic" and options["image_size"] == 32
    assert options["val_split"] == "test" and options["batch_size"] == 32


def test_user_errors_name_the_problem(run, tmp_path_factory):
    with pytest.raises(FileNotFoundError, match="Run directory not found"):
        RunDirectory(run / "missing")
    with pytest.raises(ValueError, match="`checkpoint` must be one of"):
        RunDirectory(run).model_path("first")
    (run / "best.keras").unlink()
    with pytest.raises(FileNotFoundError, match="No best.keras.*--checkpoint final"):
        RunDirectory(run).model_path("best")
    (run / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        _ = RunDirectory(run).config
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(FileNotFoundError, match="No config.json"):
        RunDirectory(empty).data_options()


def test_a_file_that_is_not_a_keras_archive_is_a_clear_value_error(tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="Cannot load the Keras model"):
        load_keras_model(bad)
