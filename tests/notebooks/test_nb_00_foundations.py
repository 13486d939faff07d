"""notebooks/00_foundations (§2/§4.1 foundations): quick run, printed numbers."""

import os

import pytest
from notebook_checks import execute, printed_number, printed_numbers


@pytest.mark.large
def test_foundations_notebook_runs(tmp_path, monkeypatch):
    printed = execute("00_foundations", tmp_path, monkeypatch)
    largest = printed_number(r"largest NumPy-vs-Keras difference: (\S+)", printed)
    assert largest < 1e-4, printed
    pattern = r"tops-only accuracy ([0-9.]+) vs all-classes accuracy ([0-9.]+)"
    tops, full = printed_numbers(pattern, printed)
    assert 1 / 4 < tops < full, printed  # above the 4 tops' chance, below all 10 classes
    on_tops, on_others = (
        printed_number(rf"accuracy on the {group}:\s+([0-9.]+)", printed)
        for group in ("tops", "others")
    )
    assert on_tops < on_others, printed  # the 10-class model errs on the tops
    figures = tmp_path / "runs" / "tutorials" / "00_foundations"
    assert os.path.isfile(figures / "confusion_matrices.png")
    assert os.path.isfile(figures / "feature_maps.png")
