"""The tutorials in notebooks/ run end to end, and each .ipynb matches its .py source.

Each ``notebooks/NN_name.ipynb`` is generated from ``notebooks/NN_name.py``
(jupytext percent format) with ``jupytext --update --to ipynb``. The sync tests compare
their cells so the two cannot drift; the execution tests run every cell with
nbclient in quick mode (``FGKERAS_TUTORIAL_QUICK=1``) in a temporary working
directory and check one number that each notebook prints.
"""

import os
import re

import jupytext
import nbclient
import nbformat
import pytest

NOTEBOOK_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks"
)
NOTEBOOKS = ("01_bilinear_cnn", "02_where_to_look")
CELL_TIMEOUT_S = 600
CHANCE = 1 / 8  # the synthetic source's 8 classes


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_matches_its_source(name):
    source = jupytext.read(os.path.join(NOTEBOOK_DIR, f"{name}.py"))
    paired = nbformat.read(os.path.join(NOTEBOOK_DIR, f"{name}.ipynb"), as_version=4)
    assert _cells(paired) == _cells(source), (
        f"notebooks/{name}.ipynb is out of date: run "
        f"`jupytext --update --to ipynb notebooks/{name}.py`"
    )
    assert paired.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in paired.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), (
        f"notebooks/{name}.ipynb holds outputs; regenerate it from the .py source"
    )


def _execute(name, tmp_path, monkeypatch):
    """Run every cell of notebooks/<name>.ipynb in tmp_path; return all text it printed."""
    monkeypatch.setenv("FGKERAS_TUTORIAL_QUICK", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, as for users
    notebook = nbformat.read(os.path.join(NOTEBOOK_DIR, f"{name}.ipynb"), as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", output
            if output.output_type == "stream" and output.name == "stdout":
                texts.append(output.text)
    return "".join(texts)


@pytest.mark.large
def test_bilinear_cnn_notebook_runs(tmp_path, monkeypatch):
    printed = _execute("01_bilinear_cnn", tmp_path, monkeypatch)
    accuracy = float(re.search(r"bcnn test accuracy: ([0-9.]+)", printed).group(1))
    assert accuracy > 2 * CHANCE, printed
    assert "SavedModel agrees with Keras on 8 of 8 images" in printed, printed
    assert os.path.isdir(tmp_path / "runs" / "tutorials" / "01_bilinear_cnn" / "saved_models")


@pytest.mark.large
def test_where_to_look_notebook_runs(tmp_path, monkeypatch):
    printed = _execute("02_where_to_look", tmp_path, monkeypatch)
    chance = float(re.search(r"random peak\s+([0-9.]+)", printed).group(1))
    for name in ("soft_attention", "ws_dan"):
        row = re.search(rf"^{name}\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", printed, re.M)
        accuracy, own_map_in_part, _ = (float(value) for value in row.groups())
        assert accuracy > 2 * CHANCE, printed
        assert own_map_in_part > chance, printed
