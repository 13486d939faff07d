"""`fgkeras evaluate RUN_DIR`: report, JSON, exit codes and one-line errors."""

import json

import pytest

import fgkeras
import fgkeras.data
from fgkeras.cli.main import main


@pytest.fixture
def run_dir(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    options = {"num_classes": 4, "num_examples": 8}
    config = {"source": "synthetic", "image_size": 32, "batch_size": 4, "source_options": options}
    (run_dir / "config.json").write_text(json.dumps(config))
    names = fgkeras.data.load("synthetic", "test", image_size=32, **options).class_names
    (run_dir / "class_names.json").write_text(json.dumps(list(names)))
    model = fgkeras.build(
        "baseline", num_classes=4, backbone="tiny", weights=None, input_shape=(32, 32, 3)
    )
    model.save(run_dir / "model.keras")
    return run_dir


def test_report(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--top-k", "3"]) == 0
    out = capsys.readouterr().out
    for text in ("examples         8 (4 classes)", "top-1", "top-3", "mean per class"):
        assert text in out
    assert "most-confused pairs" in out
    assert f"written to       {run_dir / 'eval-test-final'}/" in out
    assert (run_dir / "eval-test-final" / "confusion_matrix.png").is_file()


def test_json_output(run_dir, capsys, tmp_path):
    out_dir = tmp_path / "report"
    code = main(["evaluate", str(run_dir), "--json", "--split", "test", "--out-dir", str(out_dir)])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["num_examples"] == 8 and metrics["top_k"] == 4
    assert metrics["files"]["metrics"] == str(out_dir / "metrics.json")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["/no/such/run"], "Run directory not found: '/no/such/run'"),
        (["RUN", "--checkpoint", "best"], "No best.keras in"),
        (["RUN", "--split", "dev"], "Received: split='dev'"),
    ],
)
def test_user_errors_exit_2_with_one_line(run_dir, capsys, argv, message):
    argv = [str(run_dir) if a == "RUN" else a for a in argv]
    assert main(["evaluate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fgkeras evaluate: error: ") and message in err
    assert err.count("\n") == 1


def test_bad_flag_is_an_argparse_error(run_dir):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(run_dir), "--checkpoint", "middle"])
    assert exit_info.value.code == 2
