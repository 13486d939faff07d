"""notebooks/09_faq (§9 FAQ): quick run, printed numbers."""

import json
import os
import re

import pytest
from notebook_checks import NOTEBOOK_DIR, execute

RUN_ROW = re.compile(
    r"^(none|fgvc|fgvc\+dropout\+smoothing)\s+([0-9.]+)\s+([0-9.]+)\s+([+-][0-9.]+)\s+([0-9.]+)$",
    re.M,
)
SPEED_ROW = re.compile(
    r"^(Keras float32|Keras mixed_bfloat16|TFLite float32|TFLite dynamic)\s+(\d+)\s+"
    r"([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$",
    re.M,
)


@pytest.mark.large
def test_faq_notebook_runs(tmp_path, monkeypatch):
    printed = execute("09_faq", tmp_path, monkeypatch)

    # 1-2: augmentation and regularisation: every run learns; regularisation narrows the gap.
    runs = {m[0]: [float(v) for v in m[1:]] for m in RUN_ROW.findall(printed)}
    assert sorted(runs) == ["fgvc", "fgvc+dropout+smoothing", "none"], printed
    for train, test, gap, se in runs.values():
        assert test > 0.4 and train > 0.4, printed  # chance is 0.25
        assert gap == pytest.approx(train - test, abs=2e-3) and 0 < se < 0.05, printed
    assert runs["none"][2] > runs["fgvc+dropout+smoothing"][2], printed
    best = r"^none\s+last epoch: .*best val accuracy [0-9.]+ at epoch \d+$"
    assert re.search(best, printed, re.M), printed

    # 3: every path at every batch size, as ratios to Keras float32 at batch 1.
    speed = SPEED_ROW.findall(printed)
    assert len(speed) == 4 * 3, printed
    rows = {(name, int(batch)): [float(v) for v in values] for name, batch, *values in speed}
    assert rows["Keras float32", 1][1] == 1.0 and rows["Keras float32", 1][2] == 1.0
    assert all(ms > 0 and wall > 0 and cpu > 0 for ms, wall, cpu in rows.values()), printed
    for name, minimum in (("Keras mixed_bfloat16", 0.9), ("TFLite float32", 0.98),
                          ("TFLite dynamic", 0.9)):  # fmt: skip
        agreement = float(re.search(rf"^{name}\s+top-1 agreement ([0-9.]+)", printed, re.M)[1])
        assert agreement >= minimum, printed

    # 4: the benchmark rows are read from the repository's result files.
    results = os.path.join(os.path.dirname(NOTEBOOK_DIR), "benchmarks", "results")
    with open(os.path.join(results, "model_costs.json")) as f:
        flagship = json.load(f)["data"]["flagship"]["rows"][0]
    where = f"{flagship['input']} px {flagship['phase']}"
    shown = re.search(rf"{where}\s+batch \d+: ratio (\S+)", printed)
    assert float(shown[1]) == pytest.approx(flagship["cpu"]["ratio"], abs=6e-4), printed
    assert re.search(r"^\s+lstm_attention\s+top-1 0\.\d+ ± 0\.\d+ \(3 seeds\)", printed, re.M)
    assert re.search(r"^fgkeras/layers\s+0 of \d+ modules import TensorFlow$", printed, re.M)
    assert "Keras backend in use: tensorflow" in printed

    figures = tmp_path / "runs" / "tutorials" / "09_faq"
    for name in ("curve_comparison.png", "throughput.png"):
        assert os.path.isfile(figures / name), name
