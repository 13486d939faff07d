"""The tutorials in notebooks/ run end to end, and each .ipynb matches its .py source.

Each ``notebooks/NN_name.ipynb`` is generated from ``notebooks/NN_name.py``
(jupytext percent format) and committed *with* the outputs of its quick run, so
its figures show without running it: ``python scripts/run_notebooks.py NN_name``
executes the source and writes them. The sync tests compare the cells' types and
sources so the two cannot drift, and fail when a ``.ipynb`` lacks the outputs of
a full top-to-bottom run (a code cell without output, a figure cell without a
PNG); the execution tests run every cell with nbclient in quick mode
(``FGKERAS_TUTORIAL_QUICK=1``) in a temporary working directory and check one
number that each notebook prints.
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
NOTEBOOKS = (
    "00_foundations",
    "01_bilinear_cnn",
    "02_where_to_look",
    "03_recurrent_attention",
    "04_multimodal",
    "05_losses_and_embeddings",
)
CELL_TIMEOUT_S = 600
CHANCE = 1 / 8  # the synthetic source's 8 classes
FIGURE_CALLS = ("plt.show()", "display(")  # a code cell that draws must hold a PNG


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_matches_its_source(name):
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
def test_foundations_notebook_runs(tmp_path, monkeypatch):
    printed = _execute("00_foundations", tmp_path, monkeypatch)
    largest = float(re.search(r"largest NumPy-vs-Keras difference: (\S+)", printed).group(1))
    assert largest < 1e-4, printed
    pattern = r"tops-only accuracy ([0-9.]+) vs all-classes accuracy ([0-9.]+)"
    tops, full = (float(value) for value in re.search(pattern, printed).groups())
    assert 1 / 4 < tops < full, printed  # above the 4 tops' chance, below all 10 classes
    on_tops, on_others = (
        float(re.search(rf"accuracy on the {group}:\s+([0-9.]+)", printed).group(1))
        for group in ("tops", "others")
    )
    assert on_tops < on_others, printed  # the 10-class model errs on the tops
    figures = tmp_path / "runs" / "tutorials" / "00_foundations"
    assert os.path.isfile(figures / "confusion_matrices.png")
    assert os.path.isfile(figures / "feature_maps.png")


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


@pytest.mark.large
def test_recurrent_attention_notebook_runs(tmp_path, monkeypatch):
    printed = _execute("03_recurrent_attention", tmp_path, monkeypatch)
    largest = float(re.search(r"largest NumPy-vs-Keras difference: (\S+)", printed).group(1))
    assert largest < 1e-5, printed
    pattern = r"hierarchical top-level accuracy ([0-9.]+) vs species accuracy ([0-9.]+)"
    top, species = (float(value) for value in re.search(pattern, printed).groups())
    assert top >= species, printed  # a right species has a right family
    for name in ("baseline", "lstm_attention", "recurrent_glimpse", "hierarchical"):
        assert re.search(rf"^{name}\s+test top-1 [0-9.]+$", printed, re.M), printed
    runs = tmp_path / "runs" / "tutorials" / "03_recurrent_attention"
    assert os.path.isdir(runs / "hierarchical")


@pytest.mark.large
def test_multimodal_notebook_runs(tmp_path, monkeypatch):
    printed = _execute("04_multimodal", tmp_path, monkeypatch)
    for name in ("zero_shot_attributes", "image_text"):  # 6 classes never seen in training
        found = re.search(rf"^{name} unseen top-1: ([0-9.]+) \(chance ([0-9.]+)\)", printed, re.M)
        unseen_top1, chance = (float(value) for value in found.groups())
        assert chance == pytest.approx(1 / 6, abs=1e-3) and unseen_top1 > 2 * chance, printed
    pattern = r"top-1 with the crown colour ([0-9.]+), without \(unknown\) ([0-9.]+)"
    with_side, without = (float(value) for value in re.search(pattern, printed).groups())
    assert with_side > without > 2 / 27, printed  # the side vector helps; 1/27 is chance
    gallery = tmp_path / "runs" / "tutorials" / "04_multimodal" / "gallery"
    assert len(os.listdir(gallery)) == 192


@pytest.mark.large
def test_losses_and_embeddings_notebook_runs(tmp_path, monkeypatch):
    printed = _execute("05_losses_and_embeddings", tmp_path, monkeypatch)
    largest = float(re.search(r"largest NumPy-vs-Keras difference: (\S+)", printed).group(1))
    assert largest < 1e-5, printed
    for name in ("cross_entropy", "triplet"):  # 4-way episodes on 4 classes never trained on
        pattern = (
            rf"^{name}\s+4-way 5-shot accuracy on unseen classes: ([0-9.]+) .*\(chance ([0-9.]+)\)"
        )
        accuracy, chance = (float(value) for value in re.search(pattern, printed, re.M).groups())
        assert chance == pytest.approx(0.25, abs=1e-3) and accuracy > chance, printed
    figures = tmp_path / "runs" / "tutorials" / "05_losses_and_embeddings"
    assert os.path.isfile(figures / "embedding_triplet.png")
