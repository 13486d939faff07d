"""notebooks/06_practice (§5 practice): quick run, printed numbers, figures written."""

import json
import os
import re

import pytest
from notebook_checks import execute, printed_number, printed_numbers


@pytest.mark.large
def test_practice_notebook_runs(tmp_path, monkeypatch):
    printed = execute("06_practice", tmp_path, monkeypatch)
    # The preprocessing maths in NumPy against fgkeras.
    assert printed_number(r"largest window difference NumPy vs crop_window: (\S+)", printed) < 1e-6
    normalisation = r"largest normalisation difference NumPy vs ImagePreprocessing: (\S+)"
    assert printed_number(normalisation, printed) < 1e-4  # float32 rounding on values up to ~255
    # Every public dataset of the table is a registered source.
    for source in ("cub200", "cub200_raw", "stanford_dogs", "stanford_cars", "fgvc_aircraft"):
        assert f"source '{source}'" in printed, printed
    # Trained on real tops: well above the 0.25 of chance, with and without flip TTA.
    pattern = r"test images (\d+): top-1 ([0-9.]+), mean per class ([0-9.]+) \(chance ([0-9.]+)\)"
    count, top1, per_class, chance = printed_numbers(pattern, printed)
    assert count == 2400 and chance == pytest.approx(0.25)
    assert top1 > 0.5 and per_class > 0.5, printed
    assert printed_number(r"with flip test-time augmentation: top-1 ([0-9.]+)", printed) > 0.5
    # Three most-confused pairs, each between two different tops.
    pairs = re.findall(r"^(\S+)\s+-> (\S+)\s+(\d+) times", printed, re.M)
    assert len(pairs) == 3 and all(true != predicted for true, predicted, _ in pairs), printed
    confidence = r"correct ([0-9.]+), wrong ([0-9.]+)"
    correct, wrong = printed_numbers(confidence, printed)
    assert correct > wrong, printed
    out = tmp_path / "runs" / "tutorials" / "06_practice"
    for name in ("augmentations.png", "confused_pairs.png", "baseline/history.csv"):
        assert os.path.isfile(out / name), name
    with open(out / "eval" / "metrics.json") as f:
        assert json.load(f)["top1_accuracy"] == pytest.approx(top1, abs=1e-3)
