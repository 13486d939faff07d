"""notebooks/04_multimodal (§3.3 multimodal): quick run, printed numbers."""

import os
import re

import pytest
from notebook_checks import execute, printed_numbers


@pytest.mark.large
def test_multimodal_notebook_runs(tmp_path, monkeypatch):
    printed = execute("04_multimodal", tmp_path, monkeypatch)
    for name in ("zero_shot_attributes", "image_text"):  # 6 classes never seen in training
        found = re.search(rf"^{name} unseen top-1: ([0-9.]+) \(chance ([0-9.]+)\)", printed, re.M)
        unseen_top1, chance = (float(value) for value in found.groups())
        assert chance == pytest.approx(1 / 6, abs=1e-3) and unseen_top1 > 2 * chance, printed
    pattern = r"top-1 with the crown colour ([0-9.]+), without \(unknown\) ([0-9.]+)"
    with_side, without = printed_numbers(pattern, printed)
    assert with_side > without > 2 / 27, printed  # the side vector helps; 1/27 is chance
    gallery = tmp_path / "runs" / "tutorials" / "04_multimodal" / "gallery"
    assert len(os.listdir(gallery)) == 192
