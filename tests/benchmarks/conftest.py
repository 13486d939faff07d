"""Shared fixture of the benchmark tests: import a script of benchmarks/ as a module."""

import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def import_benchmark(monkeypatch):
    """``import_benchmark("transfer")`` imports benchmarks/transfer.py (and lets it
    import its neighbours, e.g. results_io), for this test only."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return importlib.import_module
