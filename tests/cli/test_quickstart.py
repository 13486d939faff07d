import json
import os

from fgkeras.cli.main import main
from fgkeras.cli.quickstart import quickstart


def test_quickstart_trains_compares_and_exports_the_better_model(tmp_path, capsys):
    summary = quickstart(
        models=("baseline", "bcnn"),
        image_size=32,
        epochs=1,
        batch_size=16,
        train_examples=64,
        runs_dir=str(tmp_path / "runs"),
        export_dir=str(tmp_path / "saved"),
        verbose=0,
    )
    results = summary["results"]
    assert set(results) == {"baseline", "bcnn"}
    assert summary["best"] == max(results, key=lambda name: results[name]["top1_accuracy"])
    assert summary["export_path"] == str(tmp_path / "saved" / summary["best"] / "1")
    assert os.path.isfile(os.path.join(summary["export_path"], "saved_model.pb"))
    stored = json.loads((tmp_path / "runs" / "comparison.json").read_text())
    assert stored["best"] == summary["best"]
    printed = capsys.readouterr().out
    assert "[1/2] training baseline" in printed and "[2/2] training bcnn" in printed
    assert f"best: {summary['best']}, exported to" in printed


def test_quickstart_cli_rejects_unknown_model(tmp_path, capsys):
    code = main(["quickstart", "--models", "nope", "--runs-dir", str(tmp_path)])
    assert code == 2
    assert "Unknown model name: 'nope'" in capsys.readouterr().err
