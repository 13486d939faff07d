"""notebooks/01_bilinear_cnn (§3.1.2 bilinear CNN): quick run, printed numbers."""

import os

import pytest
from notebook_checks import execute, printed_number

CHANCE = 1 / 8  # the synthetic source's 8 classes


@pytest.mark.large
def test_bilinear_cnn_notebook_runs(tmp_path, monkeypatch):
    printed = execute("01_bilinear_cnn", tmp_path, monkeypatch)
    accuracy = printed_number(r"bcnn test accuracy: ([0-9.]+)", printed)
    assert accuracy > 2 * CHANCE, printed
    assert "SavedModel agrees with Keras on 8 of 8 images" in printed, printed
    assert os.path.isdir(tmp_path / "runs" / "tutorials" / "01_bilinear_cnn" / "saved_models")
