"""notebooks/02_where_to_look (§3.1.1/§3.1.3 where-to-look): quick run, printed numbers."""

import re

import pytest
from notebook_checks import execute, printed_number

CHANCE = 1 / 8  # the synthetic source's 8 classes


@pytest.mark.large
def test_where_to_look_notebook_runs(tmp_path, monkeypatch):
    printed = execute("02_where_to_look", tmp_path, monkeypatch)
    chance = printed_number(r"random peak\s+([0-9.]+)", printed)
    for name in ("soft_attention", "ws_dan"):
        row = re.search(rf"^{name}\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", printed, re.M)
        accuracy, own_map_in_part, _ = (float(value) for value in row.groups())
        assert accuracy > 2 * CHANCE, printed
        assert own_map_in_part > chance, printed
