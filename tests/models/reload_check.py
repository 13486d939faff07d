"""Shared by the three parts of the reload test (test_reload_models_{a,b,c}.py).

Every registered model reloads where a user reloads it: in a fresh process.
One epoch of each model is trained through the command line (``fgkeras
train``). Then ONE new Python process, which imports nothing but
``fgkeras`` (no model family module, no test helper), runs for every run
directory what ``fgkeras evaluate``, ``predict``, ``explain`` and ``export
--verify`` run, and ``keras.models.load_model(path, safe_mode=True)``. The
process is shared between the models of one half to keep CI time down; what
matters is that it never built the models it loads. The registry is split in
three parts, one test file each, so three pytest-xdist workers run them side
by side (tests/conftest.py schedules them first: they are the longest files).

The training runs use plain SGD without momentum: what is checked here is the
saved model, which holds no optimizer state, and a training step with an
optimizer that has no slot variables traces in less than half the CPU time
of one with AdamW, the default (trained in tests/training); the trainings were
over half of this test's time. The other options are `fgkeras train`'s defaults
or make the runs small.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import fgkeras
from fgkeras.cli.main import main

MODELS = fgkeras.list_models()
PARTS = {"a": MODELS[0::3], "b": MODELS[1::3], "c": MODELS[2::3]}

FRESH_PROCESS = textwrap.dedent(
    """
    import gc, json, os, sys
    import keras
    import fgkeras
    from fgkeras.cli.main import main

    # The objects of the imports live to the end: later collections skip them.
    gc.freeze()

    runs, image, out = sys.argv[1], sys.argv[2], sys.argv[3]
    results = {}
    for name in sorted(os.listdir(runs)):
        run = os.path.join(runs, name)
        model = keras.models.load_model(os.path.join(run, "model.keras"), safe_mode=True)
        logits = model.predict(keras.ops.zeros((1, 32, 32, 3)), verbose=0)
        codes = {
            "evaluate": main(["evaluate", run, "--out-dir", os.path.join(out, name, "eval")]),
            "predict": main(["predict", run, image, "--json", "--top-k", "2"]),
            "explain": main(["explain", run, image, "--out", os.path.join(out, name, "cam")]),
            "export": main(["export", run, "--to", os.path.join(out, name, "sm"), "--verify"]),
        }
        with open(os.path.join(out, name, "eval", "metrics.json")) as f:
            top1 = json.load(f)["top1_accuracy"]
        results[name] = {
            "class": type(model).__name__,
            "codes": codes,
            "finite": bool(keras.ops.all(keras.ops.isfinite(logits))),
            "top1": top1,
            "overlays": sorted(os.listdir(os.path.join(out, name, "cam"))),
            "versions": os.listdir(os.path.join(out, name, "sm")),
        }
    print("RESULTS " + json.dumps(results))
    """
)


def train_runs(names, root):
    """One short CLI training run of each model in ``names`` (tiny backbone, 32 px, SGD)."""
    runs = root / "runs"
    for name in names:
        code = main(
            [
                "train", name, "--source", "synthetic", "--backbone", "tiny",
                "--weights", "none", "--image-size", "32", "--epochs", "1",
                "--batch-size", "8", "--limit", "16", "--augment", "light",
                "--optimizer", "sgd", "--momentum", "0",
                "--run-dir", str(runs / name), "--verbose", "0",
            ]
        )  # fmt: skip
        assert code == 0, name
    image = root / "bird.png"
    pixels = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    tf.io.write_file(str(image), tf.io.encode_png(pixels))
    return root, runs, image


def reload_in_a_fresh_process(trained_runs):
    """Run FRESH_PROCESS over the run directories; return its results per model."""
    root, runs, image = trained_runs
    out = root / "fresh"
    env = {**os.environ, "FGKERAS_DEBUG": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(runs), str(image), str(out)],
        capture_output=True,
        text=True,
        timeout=1500,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULTS "))
    return json.loads(line[len("RESULTS ") :])


def check_reload(name, trained_runs, fresh_process_results):
    _, runs, _ = trained_runs
    result = fresh_process_results[name]
    assert result["codes"] == {"evaluate": 0, "predict": 0, "explain": 0, "export": 0}
    assert result["finite"]
    # The fresh process evaluates the reloaded model on the same split as the
    # training process did with the model in memory: same accuracy.
    with open(runs / name / "metrics.json") as f:
        assert result["top1"] == pytest.approx(json.load(f)["top1_accuracy"], abs=1e-9)
    assert any(path.endswith(".png") for path in result["overlays"])
    assert result["versions"] == ["1"]


def check_run_directories(names, trained_runs):
    _, runs, _ = trained_runs
    for name in names:
        files = set(os.listdir(runs / name))
        expected = {"config.json", "class_names.json", "history.csv", "model.keras",
                    "backbone.weights.h5", "backbone.json"}  # fmt: skip
        assert expected | {"last.keras", "best.keras", "metrics.json"} <= files, name
