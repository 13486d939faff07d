"""`fgkeras export` on a training run folder or a .keras file."""

import json
import os

import pytest
from export_helpers import CLASS_NAMES, build

from fgkeras.cli.main import main
from fgkeras.serving.savedmodel import read_report
from fgkeras.serving.warmup import WARMUP_FILE


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A training run folder as `fgkeras train` writes it."""
    run = tmp_path_factory.mktemp("runs") / "bcnn"
    os.makedirs(run)
    build("bcnn").save(run / "model.keras")
    (run / "class_names.json").write_text(json.dumps(CLASS_NAMES))
    config = {  # the keys `fgkeras.train` writes that export reads
        "model": "bcnn",
        "source": "synthetic",
        "split": "train",
        "source_options": {"num_examples": 40},
        "image_size": 32,
        "resize_size": 40,
    }
    (run / "config.json").write_text(json.dumps(config))
    return run


def _card(version_dir):
    with open(os.path.join(version_dir, "assets", "model_card.json")) as f:
        return json.load(f)


def test_export_a_run_folder(run_dir, tmp_path, capsys):
    base = tmp_path / "saved" / "bcnn"
    assert main(["export", str(run_dir), "--to", str(base), "--tflite", "int8"]) == 0
    out = capsys.readouterr().out
    assert f"-> {base}/1" in out and "TFLite int8:" in out
    card = _card(base / "1")
    assert card["name"] == "bcnn"
    assert card["export"]["preprocessing"]["resize_size"] == 40  # the run's preprocessing
    with open(base / "1" / "assets" / "class_names.txt") as f:
        assert f.read().splitlines() == CLASS_NAMES
    assert os.path.exists(base / "1" / WARMUP_FILE)
    # int8 was calibrated on the run's own training source (40 images), not synthetic ones.
    assert read_report(base / "1")["tflite"]["int8"]["images"] == 40

    # An existing version is refused with one line, exit status 2.
    assert main(["export", str(run_dir), "--to", str(base), "--version", "1"]) == 2
    assert "Version 1 already exists" in capsys.readouterr().err


def test_export_a_keras_file_with_a_names_file(run_dir, tmp_path, capsys):
    names = tmp_path / "names.txt"
    names.write_text("".join(f"{name}\n" for name in reversed(CLASS_NAMES)))
    base = tmp_path / "m"
    argv = ["export", str(run_dir / "model.keras"), "--to", str(base), "--class-names", str(names)]
    assert main([*argv, "--top-k", "2", "--no-warmup", "--version", "7"]) == 0
    card = _card(base / "7")
    assert card["export"]["top_k"] == 2 and card["export"]["preprocessing"]["resize_size"] is None
    with open(base / "7" / "assets" / "class_names.json") as f:
        assert json.load(f) == list(reversed(CLASS_NAMES))
    assert not os.path.exists(base / "7" / WARMUP_FILE)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "/no/such/run"], "Export source not found"),
        (["export", "{keras}", "--to", "{tmp}/x"], "No class names"),
        (["export", "{run}", "--class-names", "/no/names.txt"], "Class names file not found"),
    ],
)
def test_user_errors_are_one_line(run_dir, tmp_path, capsys, argv, message):
    argv = [a.format(keras=run_dir / "model.keras", tmp=tmp_path, run=run_dir) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_exports_cannot_escape_their_base_path(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(run_dir), "--to", "saved_models/../../escape"]) == 2
    err = capsys.readouterr().err
    assert "must not contain a '..' path component" in err and len(err.strip().splitlines()) == 1
    # A run whose config names the model "../../escape": the default folder is refused.
    hostile = tmp_path / "hostile_run"
    hostile.mkdir()
    for name in ("model.keras", "class_names.json"):
        (hostile / name).write_bytes((run_dir / name).read_bytes())
    (hostile / "config.json").write_text(json.dumps({"model": "../../escape"}))
    assert main(["export", str(hostile)]) == 2
    assert "The model name must not contain a '..' path component" in capsys.readouterr().err
    assert not os.path.exists(tmp_path.parent / "escape") and not os.path.exists("saved_models")
    # With --to, the name is not used, so it is not in the way.
    assert main(["export", str(hostile), "--to", "models/birds", "--no-warmup"]) == 0
    assert os.listdir("models/birds") == ["1"]
