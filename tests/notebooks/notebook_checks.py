"""Shared checks for the tutorials in notebooks/: sync with the source, and a quick run.

Each ``notebooks/NN_name.ipynb`` is generated from ``notebooks/NN_name.py``
(jupytext percent format) and committed *with* the outputs of its quick run, so
its figures show without running it: ``python scripts/run_notebooks.py NN_name``
executes the source and writes them. ``check_matches_source`` compares the
cells' types and sources so the two cannot drift, and fails when a ``.ipynb``
lacks the outputs of a full top-to-bottom run (a code cell without output, a
figure cell without a PNG). ``execute`` runs every cell with nbclient in quick
mode (``FGKERAS_TUTORIAL_QUICK=1``) in a temporary working directory and
returns what the notebook printed, for the per-notebook test to check.

Each notebook's run lives in its own test file (``test_nb_NN_name.py``) so that
``pytest-xdist --dist loadfile`` spreads the tutorials over the workers.
"""

import glob
import os
import re

import jupytext
import nbclient
import nbformat

NOTEBOOK_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "notebooks"
)
CELL_TIMEOUT_S = 600
FIGURE_CALLS = ("plt.show()", "display(")  # a code cell that draws must hold a PNG


def notebook_names() -> list[str]:
    """Every tutorial, ``NN_name``, in the article's (file-name) order."""
    paths = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "[0-9][0-9]_*.py")))
    return [os.path.splitext(os.path.basename(path))[0] for path in paths]


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def check_matches_source(name) -> None:
    """Assert notebooks/<name>.ipynb holds the cells of <name>.py and one full quick run."""
    source = jupytext.read(os.path.join(NOTEBOOK_DIR, f"{name}.py"))
    paired = nbformat.read(os.path.join(NOTEBOOK_DIR, f"{name}.ipynb"), as_version=4)
    regenerate = f"run `.venv/bin/python scripts/run_notebooks.py {name}`"
    assert _cells(paired) == _cells(source), f"notebooks/{name}.ipynb is out of date: {regenerate}"
    assert paired.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in paired.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"notebooks/{name}.ipynb does not hold one top-to-bottom run "
        f"(execution counts {counts}): {regenerate}"
    )
    for number, cell in enumerate(code, start=1):
        kinds = [output.output_type for output in cell.outputs]
        assert kinds and "error" not in kinds, (
            f"notebooks/{name}.ipynb, code cell {number}: outputs {kinds}; {regenerate}"
        )
        if any(call in cell.source for call in FIGURE_CALLS):
            assert any("image/png" in output.get("data", {}) for output in cell.outputs), (
                f"notebooks/{name}.ipynb, code cell {number} draws a figure but holds no PNG: "
                f"{regenerate}"
            )


def execute(name, tmp_path, monkeypatch) -> str:
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


def printed_numbers(pattern, printed) -> list[float]:
    """The numbers in the groups of ``pattern`` (multiline), first match in ``printed``."""
    found = re.search(pattern, printed, re.M)
    assert found, f"{pattern!r} not printed:\n{printed}"
    return [float(value) for value in found.groups()]


def printed_number(pattern, printed) -> float:
    """The number in the first group of ``pattern`` (multiline) in ``printed``."""
    return printed_numbers(pattern, printed)[0]
