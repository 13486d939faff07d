"""`fgkeras fewshot MODEL` and `fgkeras evaluate RUN_DIR --retrieval`: reports, JSON, errors."""

import json

import pytest

import fgkeras
import fgkeras.data
from fgkeras.cli.main import main

DATA = {"num_classes": 4, "num_examples": 24}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("fewshot") / "run"
    run_dir.mkdir()
    config = {"source": "synthetic", "image_size": 16, "batch_size": 8, "source_options": DATA}
    (run_dir / "config.json").write_text(json.dumps(config))
    names = fgkeras.data.load("synthetic", "test", image_size=16, **DATA).class_names
    (run_dir / "class_names.json").write_text(json.dumps(list(names)))
    model = fgkeras.build(
        "baseline", num_classes=4, backbone="tiny", weights=None, input_shape=(16, 16, 3)
    )
    model.save(run_dir / "model.keras")
    return run_dir


FEW = ["--queries", "2", "--episodes", "10"]


def test_report_uses_the_runs_source_and_options(run_dir, capsys):
    assert main(["fewshot", str(run_dir), "--ways", "3", "--shots", "1", "3", *FEW]) == 0
    out = capsys.readouterr().out
    assert f"model            {run_dir} (checkpoint final)" in out
    assert "data             synthetic, split test: 24 images of 4 usable classes" in out
    assert "'pooler'" in out and "10 episodes, 2 queries per class, seed 0" in out
    assert "3-way 1-shot " in out and "3-way 3-shot " in out and "± " in out


def test_json_to_stdout_and_to_a_file(run_dir, capsys, tmp_path):
    assert main(["fewshot", str(run_dir), "--ways", "2", *FEW, "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["ways"] == 2 and result["shots"] == 1 and result["num_images"] == 24
    assert 0.0 <= result["accuracy"] <= 1.0
    out = tmp_path / "fewshot.json"
    argv = ["fewshot", str(run_dir), "--ways", "2", *FEW, "--seed", "3", "--json", str(out)]
    assert main(argv) == 0
    assert "written to" in capsys.readouterr().out
    assert json.loads(out.read_text())[0]["seed"] == 3


def test_keras_file_with_source_and_classes(run_dir, capsys):
    names = json.loads((run_dir / "class_names.json").read_text())
    argv = ["fewshot", str(run_dir / "model.keras"), "--source", "synthetic", "--ways", "2"]
    # Without the run's source options, synthetic defaults to 8 classes.
    argv += ["--classes", names[0], "1", *FEW, "--split", "validation", "--json"]
    assert main(argv) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["num_classes"] == 2 and result["split"] == "validation"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["MODEL_FILE"], "is a .keras file, which does not say which data"),
        (["RUN", "--ways", "5"], "5-way episodes need 5 classes"),
        (["RUN", "--classes", "no such bird"], "Unknown class 'no such bird'"),
        (["RUN", "--shots", "0"], "shots=0"),
        (["/no/such/run"], "No model found at '/no/such/run'"),
    ],
)
def test_user_errors_exit_2_with_one_line(run_dir, capsys, argv, message):
    paths = {"RUN": str(run_dir), "MODEL_FILE": str(run_dir / "model.keras")}
    argv = [paths.get(a, a) for a in argv]
    assert main(["fewshot", *argv, *FEW]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fgkeras fewshot: error: ") and message in err, err
    assert err.count("\n") == 1


def test_evaluate_retrieval_flag(run_dir, capsys, tmp_path):
    out_dir = tmp_path / "eval"
    assert main(["evaluate", str(run_dir), "--retrieval", "--out-dir", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "retrieval        Recall@1 " in out and "MAP@R " in out and "5-NN " in out
    assert (out_dir / "embedding_projection.png").is_file()
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["retrieval"]["num_queries"] == 24
    assert main(["evaluate", str(run_dir), "--out-dir", str(tmp_path / "plain")]) == 0
    assert "Recall@1" not in capsys.readouterr().out
