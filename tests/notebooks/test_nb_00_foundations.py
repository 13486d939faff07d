"""notebooks/00_foundations (§2/§4.1 foundations): quick run, printed numbers."""

import os
import re

import pytest
from notebook_checks import execute


@pytest.mark.large
def test_foundations_notebook_runs(tmp_path, monkeypatch):
    printed = execute("00_foundations", tmp_path, monkeypatch)
    largest = float(re.search(r"largest NumPy-vs-Keras difference: (\S+)", printed).group(1))
    assert largest < 1e-4, printed
    pattern = r"tops-only accuracy ([0-9.]+) vs all-classes accuracy ([0-9.]+)"
    tops, full = (float(value) for value in re.search(pattern, printed).groups())
    assert 1 / 4 < tops < full, printed  # above the 4 tops' chance, below all 10 classes
    on_tops, on_others = (
        float(re.search(rf"accuracy on the {group}:\s+([0-9.]+)", printed).group(1))
        for group in ("tops", "others")
    )
    assert on_tops < on_others, printed  # the 10-class model errs on the tops
    figures = tmp_path / "runs" / "tutorials" / "00_foundations"
    assert os.path.isfile(figures / "confusion_matrices.png")
    assert os.path.isfile(figures / "feature_maps.png")
