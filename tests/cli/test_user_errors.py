"""Every subcommand answers a bad argument and a bad file with one line and exit 2.

The whole of stderr is checked, so a traceback printed anywhere (even before
the error line) fails the test. Most cases call `main` in-process (a
subprocess per case would cost a TensorFlow import each); a diverging run and
FGKERAS_DEBUG are checked in a subprocess, as a user runs them.
"""

import os
import subprocess
import sys

import pytest

from fgkeras.cli.main import main

NOT_A_MODEL = "this is not a Keras archive"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "broken.keras").write_text(NOT_A_MODEL)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (root / "bad.json").write_text("{not json")
    run = root / "run"
    run.mkdir()
    (run / "config.json").write_text('{"source": "synthetic"}')
    (run / "model.keras").write_text(NOT_A_MODEL)
    return root


CASES = {
    "card: unknown model": (["card", "no_such_model"], "Unknown model name"),
    "train: bad argument": (["train", "baseline", "--epochs", "0"], "`epochs` must be"),
    "train: bad config file": (
        ["train", "baseline", "--config", "{root}/bad.json"],
        "not valid JSON",
    ),
    "train: unknown source": (
        ["train", "baseline", "--source", "no_such_source", "--run-dir", "{root}/r1"],
        "no_such_source",
    ),
    "quickstart: bad argument": (["quickstart", "--models", "no_such_model"], "Unknown model"),
    "data: missing folder": (["data", "pack", "{root}/missing", "--to", "{root}/p"], "missing"),
    "evaluate: bad checkpoint file": (["evaluate", "{root}/run"], "Cannot load the Keras model"),
    "evaluate: missing run": (["evaluate", "{root}/nothing"], "Run directory not found"),
    "predict: broken model file": (
        ["predict", "{root}/broken.keras", "{root}/broken.png"],
        "Cannot load the Keras model",
    ),
    "predict: bad argument": (
        ["predict", "{root}/run", "{root}/broken.png", "--top-k", "0"],
        "top_k",
    ),
    "explain: broken model file": (
        ["explain", "{root}/broken.keras", "{root}/broken.png", "--out", "{root}/x"],
        "Cannot load the Keras model",
    ),
    "export: broken model file": (
        ["export", "{root}/broken.keras", "--to", "{root}/sm"],
        "Cannot load the Keras model",
    ),
    "export: escaping path": (["export", "{root}/run", "--to", "{root}/../../x"], ".."),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_error_is_one_line_and_exit_2(case, files, capsys, monkeypatch):
    monkeypatch.delenv("FGKERAS_DEBUG", raising=False)
    argv, expected = CASES[case]
    code = main([arg.format(root=files) for arg in argv])
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("fgkeras ")]
    assert code == 2, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
    assert len(errors) == 1 and ": error: " in errors[0], stderr[-2000:]
    assert expected in errors[0]


def test_divergence_is_one_line(tmp_path):
    argv = ["train", "baseline", "--source", "synthetic", "--backbone", "tiny",
            "--weights", "none", "--image-size", "32", "--limit", "32", "--batch-size", "16",
            "--epochs", "1", "--optimizer", "sgd", "--learning-rate", "1e30",
            "--augment", "none", "--verbose", "0", "--run-dir", str(tmp_path / "run")]  # fmt: skip
    completed = subprocess.run(
        [sys.executable, "-m", "fgkeras", *argv], capture_output=True, text=True
    )
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert "Traceback" not in completed.stderr
    assert "fgkeras train: error:" in completed.stderr
    assert "Training diverged" in completed.stderr


def test_debug_variable_shows_the_traceback(files):
    env = {**os.environ, "FGKERAS_DEBUG": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "fgkeras", "evaluate", str(files / "nothing")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert completed.returncode != 0 and "Traceback" in completed.stderr
