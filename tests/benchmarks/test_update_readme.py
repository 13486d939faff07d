"""The README's benchmark tables are copies of benchmarks/results (scripts/update_readme.py)."""

import doctest
import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load(relative_path):
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


update_readme = load("scripts/update_readme.py")


def test_documents_are_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_readme.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"{result.stdout}{result.stderr}\nThe README or docs/data.md differ from "
        "benchmarks/results: run `python scripts/update_readme.py`."
    )


def test_replace_blocks_replaces_only_between_markers():
    text = (
        "# Title\n"
        "before\n"
        "<!-- results:a -->\nold a\n<!-- /results:a -->\n"
        "middle\n"
        "<!-- results:b -->\n<!-- /results:b -->\n"
        "after\n"
    )
    new = update_readme.replace_blocks(text, {"a": "| x |\n|---|\n| 1 |", "b": "\nB\n"})
    assert new == (
        "# Title\n"
        "before\n"
        "<!-- results:a -->\n| x |\n|---|\n| 1 |\n<!-- /results:a -->\n"
        "middle\n"
        "<!-- results:b -->\nB\n<!-- /results:b -->\n"
        "after\n"
    )
    # Idempotent: a second pass changes nothing.
    assert update_readme.replace_blocks(new, {"a": "| x |\n|---|\n| 1 |", "b": "B"}) == new


def test_replace_blocks_without_markers_is_identity():
    assert update_readme.replace_blocks("no markers\n", {"a": "A"}) == "no markers\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("<!-- results:a -->\nx\n", "never closed"),
        ("<!-- /results:a -->\n", "closes no open block"),
        ("<!-- results:a -->\n<!-- /results:b -->\n", "closes"),
        ("<!-- results:a -->\n<!-- results:a -->\n", "opens inside"),
        ("<!-- results:nope -->\n<!-- /results:nope -->\n", "no results named 'nope'"),
    ],
)
def test_replace_blocks_rejects_bad_markers(text, message):
    with pytest.raises(ValueError, match=message):
        update_readme.replace_blocks(text, {"a": "A", "b": "B"})


def test_render_links_relative_to_the_document():
    record = {
        "name": "demo",
        "command": "python benchmarks/demo.py",
        "date": "2026-01-01 00:00 UTC",
        "machine": {"cpu": "Some CPU", "cpu_count": 2, "tensorflow": "2.0"},
        "note": None,
        "table": "| a |\n|---|\n| 1 |\n",
    }
    readme = update_readme.render(record, "README.md")
    docs = update_readme.render(record, "docs/data.md")
    assert readme.startswith("| a |\n|---|\n| 1 |\n\n<sub>Source: ")
    assert "(benchmarks/results/demo.md)" in readme
    assert "(../benchmarks/results/demo.md)" in docs
    assert "`python benchmarks/demo.py`, 2026-01-01 00:00 UTC, Some CPU, 2 CPU cores" in readme


def test_update_check_reports_a_stale_document(tmp_path):
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    record = {
        "name": "demo",
        "command": "python benchmarks/demo.py",
        "date": "2026-01-01",
        "machine": {},
        "table": "| a |\n|---|\n| 1 |",
    }
    (results / "demo.json").write_text(json.dumps(record))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:demo -->\nstale\n<!-- /results:demo -->\n")
    assert update_readme.update(str(tmp_path), check=True) == ["README.md"]
    assert "stale" in readme.read_text()  # --check changes nothing
    assert update_readme.update(str(tmp_path)) == ["README.md"]
    assert "| 1 |" in readme.read_text()
    assert update_readme.update(str(tmp_path), check=True) == []


def test_every_results_file_records_command_date_and_machine():
    records = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
    assert records
    for path in records:
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["name"] == path.stem
        assert record["command"].startswith(f"python benchmarks/{path.stem}.py")
        assert record["date"] and record["machine"] and record["table"].strip()
        assert (path.parent / f"{path.stem}.md").exists()


def test_docstring_examples():
    for module in (update_readme, load("benchmarks/results_io.py")):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__
