"""Every tutorial's .ipynb matches its .py and holds its quick run; every one is executed."""

import os

import pytest
from notebook_checks import check_matches_source, notebook_names

NAMES = notebook_names()


def test_every_chapter_has_a_tutorial():
    numbers = [name.split("_")[0] for name in NAMES]
    assert numbers == [f"{index:02d}" for index in range(len(NAMES))], NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_matches_its_source(name):
    check_matches_source(name)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_has_a_run_test(name):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"test_nb_{name}.py")
    assert os.path.isfile(path), f"no test runs notebooks/{name}: add {path}"
