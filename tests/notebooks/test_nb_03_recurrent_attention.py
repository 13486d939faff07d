"""notebooks/03_recurrent_attention (§3.2 recurrent attention): quick run, printed numbers."""

import os
import re

import pytest
from notebook_checks import execute, printed_number, printed_numbers


@pytest.mark.large
def test_recurrent_attention_notebook_runs(tmp_path, monkeypatch):
    printed = execute("03_recurrent_attention", tmp_path, monkeypatch)
    largest = printed_number(r"largest NumPy-vs-Keras difference: (\S+)", printed)
    assert largest < 1e-5, printed
    pattern = r"hierarchical top-level accuracy ([0-9.]+) vs species accuracy ([0-9.]+)"
    top, species = printed_numbers(pattern, printed)
    assert top >= species, printed  # a right species has a right family
    for name in ("baseline", "lstm_attention", "recurrent_glimpse", "hierarchical"):
        assert re.search(rf"^{name}\s+test top-1 [0-9.]+$", printed, re.M), printed
    runs = tmp_path / "runs" / "tutorials" / "03_recurrent_attention"
    assert os.path.isdir(runs / "hierarchical")
