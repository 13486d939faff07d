"""Test-session set-up shared by every test directory.

`pytest_collection_modifyitems` puts the longest test files first. Under
``pytest-xdist --dist loadfile`` (scripts/test.sh) whole files go to workers
in collection order, so a long file collected late leaves one worker busy
while the others are idle; longest first keeps the workers evenly loaded.
The list is ordered by durations measured with ``--durations`` (the reload
files train and reload a third of the registry each); files not listed keep
their usual order after them.
"""

import pytest

LONGEST_FIRST = (
    # One file per tutorial, so the workers share them (kernel CPU time of each quick run).
    "tests/notebooks/test_nb_04_multimodal.py",  # 145 s
    "tests/models/test_reload_models_a.py",
    "tests/models/test_reload_models_b.py",
    "tests/models/test_reload_models_c.py",
    "tests/notebooks/test_nb_03_recurrent_attention.py",  # 103 s
    "tests/notebooks/test_nb_01_bilinear_cnn.py",  # 77 s
    "tests/notebooks/test_nb_02_where_to_look.py",  # 73 s
    "tests/notebooks/test_nb_09_faq.py",  # 61 s
    "tests/notebooks/test_nb_06_practice.py",  # 58 s
    "tests/notebooks/test_nb_08_open_problems.py",  # 53 s
    "tests/notebooks/test_nb_07_deployment.py",  # 45 s
    "tests/notebooks/test_nb_00_foundations.py",  # 45 s
    "tests/notebooks/test_nb_05_losses_and_embeddings.py",  # 45 s
    "tests/training/test_ema.py",
    "tests/serving/test_tta_export.py",
    "tests/test_configs.py",
    "tests/models/test_attention_models.py",
    "tests/training/test_distribute.py",
    "tests/training/test_train.py",
    "tests/training/test_metric_learning_end_to_end.py",
    "tests/cli/test_quickstart.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    default = len(LONGEST_FIRST)
    # sorted() is stable: tests keep their order within a file and among unlisted files.
    items[:] = sorted(items, key=lambda item: rank.get(item.nodeid.split("::")[0], default))


@pytest.fixture
def import_benchmark(monkeypatch):
    """``import_benchmark("transfer")`` imports benchmarks/transfer.py (and lets it
    import its neighbours, e.g. results_io), for this test only."""
    import importlib
    import pathlib

    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
    return importlib.import_module


@pytest.fixture
def readme_model_column():
    """``readme_model_column("transfer")``: README's model table as model name ->
    its cell in the column whose title starts with that text. A row of several
    models ("`soft_attention`, `hard_attention`") says "name: value; name: value"."""
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Models", 1)[1].split("\n\n", 2)[1]
    header, _, *rows = section.splitlines()

    def cells_of(row):  # "\|" inside a cell is a literal bar, not a column border
        return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))]

    def column(title):
        titles = cells_of(header)
        index = next(i for i, t in enumerate(titles) if t.startswith(title))
        cells = {}
        for row in rows:
            parts = cells_of(row)
            assert len(parts) == len(titles), row
            names = re.findall(r"`(\w+)`", parts[0])
            for name in names:
                own = [c.split(": ", 1)[1] for c in parts[index].split("; ")
                       if c.startswith(f"{name}:")]  # fmt: skip
                cells[name] = own[0] if len(names) > 1 else parts[index]
        return cells

    return column
