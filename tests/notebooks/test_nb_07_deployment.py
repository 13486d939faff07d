"""notebooks/07_deployment (§6 applications, §9.4 deployment): quick run, printed numbers."""

import os
import re

import pytest
from notebook_checks import execute, printed_number


@pytest.mark.large
def test_deployment_notebook_runs(tmp_path, monkeypatch):
    printed = execute("07_deployment", tmp_path, monkeypatch)
    out = tmp_path / "runs" / "tutorials" / "07_deployment"
    version = out / "saved_models" / "tops" / "1"
    assert re.search(r"exported in \d+ s to \S*saved_models/tops/1$", printed, re.M), printed
    assert "verified without fgkeras: ok=True, imports fgkeras: False" in printed

    # The sorter learned: well above chance (0.25) on the four tops.
    assert printed_number(r"Keras model accuracy on the measure half: ([0-9.]+)", printed) > 0.5

    # REST (both forms) and gRPC, answered by the SavedModel, give the Keras probabilities.
    for path in ("REST \\(instances\\)", "REST \\(inputs\\)", "gRPC"):
        pattern = rf"^{path} vs Keras, max \|difference\| of probabilities: (\S+)"
        assert printed_number(pattern, printed) < 1e-5, printed
    assert "gRPC top-1 equals Keras top-1 on 100% of the 32 images" in printed

    # The table: agreement with Keras, sizes int8 < float16 < float32.
    rows = {}
    for name in ("SavedModel, PNG bytes", "TFLite float32", "TFLite float16", "TFLite int8"):
        row = re.search(
            rf"^{name}\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)\s+(\S+)\s+([0-9.]+)$", printed, re.M
        )
        assert row, f"no table row for {name}:\n{printed}"
        rows[name] = [float(value) for value in row.groups()]
    assert rows["SavedModel, PNG bytes"][2] == 1.0
    assert rows["TFLite float32"][2] == 1.0 and rows["TFLite float32"][3] < 1e-4
    assert rows["TFLite float16"][2] >= 0.99 and rows["TFLite float16"][3] < 1e-2
    assert rows["TFLite int8"][2] >= 0.9
    sizes = {name: os.path.getsize(version / "tflite" / f"model_{name}.tflite")
             for name in ("float32", "float16", "int8")}  # fmt: skip
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]
    assert sizes["float16"] < 0.6 * sizes["float32"] and sizes["int8"] < 0.35 * sizes["float32"]
    assert rows["TFLite int8"][0] == pytest.approx(sizes["int8"] / 1024, abs=1)

    # The threshold: NumPy check, then routing uncertain items raises the accuracy of the rest.
    assert printed_number(r"largest NumPy-vs-fgkeras difference: (\S+)", printed) < 1e-9
    found = re.search(
        r"threshold ([0-9.]+): routed ([0-9.]+), accuracy of the rest ([0-9.]+), "
        r"of the routed ([0-9.]+)",
        printed,
    )
    threshold, routed, rest, of_routed = (float(value) for value in found.groups())
    assert 0.25 < threshold < 1.0 and 0.0 < routed < 1.0
    assert rest > 0.85 and rest > of_routed + 0.1, printed

    assert (out / "request.json").is_file() and (out / "selective_curve.png").is_file()
