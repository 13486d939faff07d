"""notebooks/05_losses_and_embeddings (§4.3 losses and embeddings): quick run, printed numbers."""

import os

import pytest
from notebook_checks import execute, printed_number, printed_numbers


@pytest.mark.large
def test_losses_and_embeddings_notebook_runs(tmp_path, monkeypatch):
    printed = execute("05_losses_and_embeddings", tmp_path, monkeypatch)
    largest = printed_number(r"largest NumPy-vs-Keras difference: (\S+)", printed)
    assert largest < 1e-5, printed
    for name in ("cross_entropy", "triplet"):  # 4-way episodes on 4 classes never trained on
        pattern = (
            rf"^{name}\s+4-way 5-shot accuracy on unseen classes: ([0-9.]+) .*\(chance ([0-9.]+)\)"
        )
        accuracy, chance = printed_numbers(pattern, printed)
        assert chance == pytest.approx(0.25, abs=1e-3) and accuracy > chance, printed
    figures = tmp_path / "runs" / "tutorials" / "05_losses_and_embeddings"
    assert os.path.isfile(figures / "embedding_triplet.png")
