"""Execute tutorials in quick mode and write their outputs into the paired .ipynb.

The jupytext ``.py`` file is the source; the ``.ipynb`` beside it is committed
*with* the outputs of its quick run (``FGKERAS_TUTORIAL_QUICK=1``), so that the
figures show on GitHub without running anything. For each notebook this
script:

1. reads ``notebooks/NAME.py`` and keeps the cell ids of the existing
   ``NAME.ipynb`` (as ``jupytext --update`` does), so diffs stay small;
2. runs every cell with nbclient (kernel ``python3``) in a temporary working
   directory, so the ``runs/`` a tutorial writes does not land in the tree;
3. drops what changes from run to run and says nothing about the tutorial:
   execution timing, the kernel's ``language_info`` and TensorFlow's log
   lines (the native ones carry time stamps and process ids, the Python
   ``INFO:tensorflow:`` ones name temporary folders), and merges each cell's
   consecutive prints into one output;
4. writes ``NAME.ipynb`` and prints the wall time of the run, the CPU time
   of its kernel (less sensitive to other jobs on the machine than the wall
   time), its slowest cells and the file size.

Usage (from the repository root)::

    .venv/bin/python scripts/run_notebooks.py                  # every notebooks/NN_*.py
    .venv/bin/python scripts/run_notebooks.py 00_foundations   # one (name or path)

A failing cell raises ``nbclient.exceptions.CellExecutionError`` naming it, and
that notebook's ``.ipynb`` is left unchanged. ``tests/notebooks/``
checks that each ``.ipynb`` matches its ``.py`` and holds outputs.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import os
import re
import resource
import sys
import tempfile
import time

import jupytext
import nbclient
import nbformat
from jupytext.combine import combine_inputs_with_outputs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK_DIR = os.path.join(ROOT, "notebooks")
KERNEL = "python3"
CELL_TIMEOUT_S = 1200
VOLATILE_NOTEBOOK_METADATA = ("language_info", "widgets")
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")
# Log lines of TensorFlow's C++ runtime, e.g. "I0000 00:00:1796196551.401244   12396
# port.cc:153] oneDNN custom operations are on...", and of its Python logger, e.g.
# "INFO:tensorflow:Assets written to: /tmp/.../assets", and TFLite's interpreter,
# "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", and its converter's
# "fully_quantize: 0, inference_type: 6, ...".
LOG_LINE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] .*|INFO:tensorflow:.*"
    r"|INFO: Created TensorFlow Lite .*|fully_quantize: \d+, inference_type: .*)$"
)


def notebook_sources(names=()) -> list[str]:
    """Paths of the ``.py`` sources to run: the given names or paths, else every ``NN_*.py``."""
    if not names:
        return sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "[0-9][0-9]_*.py")))
    paths = []
    for name in names:
        stem = os.path.splitext(os.path.basename(name))[0]
        path = os.path.join(NOTEBOOK_DIR, f"{stem}.py")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No notebook source {path!r}. Received: {name!r}")
        paths.append(path)
    return paths


def strip_volatile(notebook):
    """Remove metadata and log lines that change from run to run, merge consecutive
    prints of a cell; returns the notebook."""
    for key in VOLATILE_NOTEBOOK_METADATA:
        notebook.metadata.pop(key, None)
    for cell in notebook.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if output.output_type == "stream":
                lines = output.text.splitlines(keepends=True)
                output.text = "".join(x for x in lines if not LOG_LINE.match(x.rstrip()))
                if not output.text.strip():
                    continue
                previous = kept[-1] if kept else None
                if previous and previous.output_type == "stream" and previous.name == output.name:
                    previous.text += output.text
                    continue
            kept.append(output)
        cell.outputs = kept
    return notebook


def cell_seconds(notebook) -> list[tuple[int, float]]:
    """(code cell number from 1, seconds) of each executed cell, from nbclient's timing."""
    found = []
    code_cells = (cell for cell in notebook.cells if cell.cell_type == "code")
    for number, cell in enumerate(code_cells, start=1):
        timing = cell.metadata.get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start, end = (
                datetime.datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                for key in ("iopub.execute_input", "shell.execute_reply")
            )
            found.append((number, (end - start).total_seconds()))
    return found


def run_notebook(source_path, timeout=CELL_TIMEOUT_S) -> tuple[str, float, float, list]:
    """Execute one tutorial in quick mode and write its ``.ipynb``.

    Returns:
        (path of the ``.ipynb``, wall seconds of the run, CPU seconds of the
        kernel process, `cell_seconds`).
    """
    notebook = jupytext.read(source_path)
    target = os.path.splitext(source_path)[0] + ".ipynb"
    if os.path.isfile(target):  # keep the cell ids of the committed notebook
        notebook = combine_inputs_with_outputs(notebook, nbformat.read(target, as_version=4))
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": KERNEL,
    }
    env = {"FGKERAS_TUTORIAL_QUICK": "1"}
    previous = {key: os.environ.get(key) for key in (*env, "MPLBACKEND")}
    os.environ.update(env)
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, as for users
    try:
        with tempfile.TemporaryDirectory(prefix="fgkeras-notebook-") as workdir:
            client = nbclient.NotebookClient(
                notebook,
                kernel_name=KERNEL,
                timeout=timeout,
                resources={"metadata": {"path": workdir}},
            )
            start, cpu_start = time.time(), _children_cpu_seconds()
            client.execute()  # starts the kernel as a child process and waits for its end
            seconds, cpu = time.time() - start, _children_cpu_seconds() - cpu_start
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    timings = cell_seconds(notebook)
    if notebook.metadata.get("jupytext", {}).get("formats"):
        notebook.metadata["jupytext"].pop("text_representation", None)
    jupytext.write(strip_volatile(notebook), target, fmt="ipynb")
    return target, seconds, cpu, timings


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="names (00_foundations) or paths of .py")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S, help="seconds per cell")
    args = parser.parse_args(argv)
    for source in notebook_sources(args.notebooks):
        target, seconds, cpu, timings = run_notebook(source, args.timeout)
        size = os.path.getsize(target) / 1024
        slowest = sorted(timings, key=lambda item: -item[1])[:3]
        cells = ", ".join(f"cell {number} {time:.0f} s" for number, time in slowest)
        print(
            f"{os.path.relpath(target, ROOT)}: quick run {seconds:.0f} s wall, "
            f"{cpu:.0f} s CPU (slowest code cells: {cells}), {size:.0f} KiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
