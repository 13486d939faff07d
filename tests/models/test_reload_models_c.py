"""Part 'c' of the registry reloads in a fresh process (see tests/models/reload_check.py)."""

import pytest

from tests.models import reload_check

NAMES = reload_check.PARTS["c"]


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    return reload_check.train_runs(NAMES, tmp_path_factory.mktemp("reload_c"))


@pytest.fixture(scope="module")
def fresh_process_results(trained_runs):
    return reload_check.reload_in_a_fresh_process(trained_runs)


@pytest.mark.large
@pytest.mark.parametrize("name", NAMES)
def test_reloads_in_a_fresh_process(name, trained_runs, fresh_process_results):
    reload_check.check_reload(name, trained_runs, fresh_process_results)


@pytest.mark.large
def test_every_run_directory_has_the_documented_files(trained_runs):
    reload_check.check_run_directories(NAMES, trained_runs)
