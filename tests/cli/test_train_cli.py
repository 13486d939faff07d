"""`fgkeras train` and `fgkeras list`: flags map to arguments; errors are one line."""

import json
import os

import pytest

from fgkeras.cli.main import build_parser, main

TINY_FLAGS = [
    "--source",
    "synthetic",
    "--backbone",
    "tiny",
    "--weights",
    "none",
    "--image-size",
    "32",
    "--batch-size",
    "16",
    "--limit",
    "32",
    "--epochs",
    "1",
    "--augment",
    "none",
    "--verbose",
    "0",
]


def test_unset_flags_are_not_passed():
    args = build_parser().parse_args(
        [
            "train",
            "bcnn",
            "--epochs",
            "3",
            "--weights",
            "none",
            "--model-options",
            '{"dropout": 0.2}',
            "--no-deterministic",
        ]
    )
    assert {k: v for k, v in vars(args).items() if k not in ("func", "command")} == {
        "model": "bcnn",
        "epochs": 3,
        "weights": None,
        "model_options": {"dropout": 0.2},
        "deterministic": False,
    }


def test_train_command_writes_a_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "baseline", *TINY_FLAGS, "--run-dir", str(run_dir)]) == 0
    assert f"run directory: {run_dir}" in capsys.readouterr().out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["epochs"] == 1 and config["weights"] is None and config["backbone"] == "tiny"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "bcn"], "Unknown model name: 'bcn'"),
        (["train", "baseline", "--source", "no_such_source"], "no_such_source"),
        (["train", "baseline", "--optimizer", "adam2"], "optimizer"),
    ],
)
def test_user_errors_are_one_line_with_exit_2(argv, message, tmp_path, capsys):
    assert main([*argv, "--run-dir", str(tmp_path / "r"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_bad_flag_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "baseline", "--epochz", "3"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --epochz" in capsys.readouterr().err


def test_unwritable_run_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(["train", "baseline", *TINY_FLAGS, "--run-dir", str(blocker / "run")])
    assert code == 2
    err = capsys.readouterr().err
    assert "Cannot write the run directory" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_run_directory(tmp_path, capsys):
    tmp_path.chmod(0o500)
    try:
        assert main(["train", "baseline", *TINY_FLAGS, "--run-dir", str(tmp_path / "r")]) == 2
    finally:
        tmp_path.chmod(0o700)


def test_list_and_card(capsys):
    assert main(["list", "*bilinear*"]) == 0
    out = capsys.readouterr().out
    assert "bcnn" in out and "Bilinear CNN Models" in out and "baseline" not in out
    assert main(["card", "cbp"]) == 0
    assert json.loads(capsys.readouterr().out)["year"] == 2016
