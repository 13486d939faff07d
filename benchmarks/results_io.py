"""Results files of the benchmarks: ``benchmarks/results/<name>.md`` and ``<name>.json``.

Every script in ``benchmarks/`` ends with one call to :func:`write_results`,
so that each figure in the README and the docs can be traced to a command,
a date, a machine (CPU model, core count, Python/TensorFlow/Keras versions)
and a commit. The JSON file holds the same record as the Markdown file plus
the raw numbers; ``scripts/update_readme.py`` copies its ``table`` into the
documents between ``<!-- results:<name> -->`` and ``<!-- /results:<name> -->``.

>>> import json, tempfile
>>> table = markdown_table(["model", "accuracy"], [["baseline", 0.93]])
>>> print(table)
| model | accuracy |
|---|---|
| baseline | 0.93 |
>>> folder = tempfile.mkdtemp()
>>> script = os.path.join(REPO, "benchmarks", "demo.py")
>>> md, js = write_results("demo", table, {"rows": [{"model": "baseline", "accuracy": 0.93}]},
...                        results_dir=folder, argv=[script, "--epochs", "1"])
results: ...demo.md and demo.json
>>> os.path.basename(md), os.path.basename(js)
('demo.md', 'demo.json')
>>> with open(js) as f:
...     record = json.load(f)
>>> record["command"], record["data"]["rows"][0]["accuracy"]
('python benchmarks/demo.py --epochs 1', 0.93)
>>> sorted(record["machine"])
['cpu', 'cpu_count', 'keras', 'platform', 'python', 'tensorflow']
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(REPO, "benchmarks", "results")


def add_results_dir_argument(parser) -> None:
    """Add ``--results-dir`` (where :func:`write_results` writes) to an argparse parser."""
    parser.add_argument(
        "--results-dir",
        default=RESULTS_DIR,
        help="folder for <name>.md and <name>.json. Defaults to benchmarks/results "
        "(use a temporary folder for smoke runs, so the recorded results stay).",
    )


def settings_of(args) -> dict:
    """The parsed arguments of a run, less ``results_dir`` (where, not how, it ran)."""
    return {key: value for key, value in vars(args).items() if key != "results_dir"}


def markdown_table(header, rows) -> str:
    """A Markdown table from a header and rows of values (``None`` shows as "–")."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = ("–" if value is None else str(value) for value in row)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def command_line(argv=None) -> str:
    """The command that ran, as ``python <script relative to the repo> <args>``."""
    argv = list(sys.argv if argv is None else argv)
    script = os.path.abspath(argv[0]) if argv else ""
    if script.startswith(REPO + os.sep):
        script = os.path.relpath(script, REPO)
    else:
        script = argv[0] if argv else "?"
    return shlex.join(["python", script.replace(os.sep, "/"), *argv[1:]])


def _version(*distributions):
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """CPU model, logical core count, OS and the versions of Python, TensorFlow and Keras."""
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow", "tensorflow-cpu", "tf-nightly"),
        "keras": _version("keras", "keras-nightly"),
    }


def code_version() -> str | None:
    """``git`` commit of the repository, with ``+local changes`` when the tree is dirty."""
    try:
        commit = subprocess.run(
            ["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+local changes" if dirty else commit


def now() -> str:
    """The current UTC time as ``YYYY-MM-DD HH:MM UTC``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def describe_machine(info: dict) -> str:
    """One line from a :func:`machine` dict; fields that are ``None`` are left out."""
    parts = []
    if info.get("cpu"):
        parts.append(info["cpu"])
    if info.get("cpu_count"):
        parts.append(f"{info['cpu_count']} CPU cores")
    versions = [
        f"{label} {info[key]}"
        for key, label in (("python", "Python"), ("tensorflow", "TensorFlow"), ("keras", "Keras"))
        if info.get(key)
    ]
    text = ", ".join(parts)
    if versions:
        text += ("; " if text else "") + ", ".join(versions)
    return text or "not recorded"


def write_results(
    name: str,
    table: str,
    data: dict,
    *,
    results_dir: str = RESULTS_DIR,
    title: str | None = None,
    note: str | None = None,
    argv=None,
    command: str | None = None,
    date: str | None = None,
    machine_info: dict | None = None,
    code: str | None = None,
) -> tuple[str, str]:
    """Write ``<results_dir>/<name>.md`` and ``<name>.json``; return their paths.

    Args:
        name: results name, also the marker name in the documents.
        table: Markdown that the documents show (a table, maybe a line or two under it).
        data: the numbers (JSON-serializable), including the settings that produced them.
        results_dir: output folder. Defaults to ``benchmarks/results``.
        title: heading of the Markdown file. Defaults to ``name``.
        note: a sentence shown under the provenance lines. Defaults to None.
        argv: command line to record. Defaults to ``sys.argv``.
        command, date, machine_info, code: override the recorded command,
            date, machine and commit (only to convert an earlier run's file,
            whose facts were recorded elsewhere). Default to this run's.
    """
    record = {
        "name": name,
        "title": title or name,
        "command": command or command_line(argv),
        "date": date or now(),
        "machine": machine() if machine_info is None else machine_info,
        "code": code_version() if code is None else code,
        "note": note,
        "table": table.strip(),
        "data": data,
    }
    os.makedirs(results_dir, exist_ok=True)
    json_path = os.path.join(results_dir, f"{name}.json")
    md_path = os.path.join(results_dir, f"{name}.md")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2, ensure_ascii=False)
        f.write("\n")
    lines = [
        f"# {record['title']}",
        "",
        f"- Command: `{record['command']}`",
        f"- Date: {record['date']}",
        f"- Machine: {describe_machine(record['machine'])}",
        f"- Code: {record['code'] or 'not recorded'}",
    ]
    if note:
        lines.append(f"- Note: {note}")
    lines += ["", record["table"], "", f"Raw numbers: [{name}.json]({name}.json)", ""]
    with open(md_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"results: {md_path} and {name}.json", flush=True)
    return md_path, json_path
