"""notebooks/08_open_problems (§8 open problems): quick run, printed numbers."""

import os

import pytest
from notebook_checks import execute, printed_numbers


@pytest.mark.large
def test_open_problems_notebook_runs(tmp_path, monkeypatch):
    printed = execute("08_open_problems", tmp_path, monkeypatch)
    # 1. Few labels: 5-way episodes on 9 classes never trained on (chance 0.2).
    for shots in (1, 5):
        pattern = rf"^baseline\s+5-way\s+{shots}-shot accuracy on unseen classes: ([0-9.]+)"
        (trained,) = printed_numbers(pattern, printed)
        (untrained,) = printed_numbers(pattern.replace("baseline", "untrained"), printed)
        assert trained > 0.5 and trained > untrained + 0.1, printed
    # 2. Interpretability: both maps peak on a part far more often than a random peak.
    (chance, *_) = printed_numbers(r"^random peak\s+([0-9.]+)", printed)
    for name in ("baseline Grad-CAM", "soft_attention own map"):
        row = rf"^{name}\s+([0-9.]+)\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$"
        (in_part, *_) = printed_numbers(row, printed)
        assert in_part > 2 * chance, printed
    # 3. Domain shift: AdaBN statistics equal NumPy's; the dim camera collapses without
    # adaptation and recovers with it; the harder domain loses accuracy.
    (difference,) = printed_numbers(r"largest \|moving statistics - NumPy\|: (\S+)", printed)
    assert difference < 1e-5, printed
    source, _ = printed_numbers(r"^source \(difficulty 0\.2\)\s+([0-9.]+)\s+([0-9.]+)$", printed)
    harder, _ = printed_numbers(r"^harder \(difficulty 0\.8\)\s+([0-9.]+)\s+([0-9.]+)$", printed)
    dim_before, dim_after = printed_numbers(
        r"^dim camera \(0\.45 x \+ 10\)\s+([0-9.]+)\s+([0-9.]+)$", printed
    )
    assert source > 0.5 and harder < source - 0.1, printed
    assert dim_before < 0.3 and dim_after > dim_before + 0.3, printed
    assert os.path.isdir(tmp_path / "runs" / "tutorials" / "08_open_problems" / "baseline")
