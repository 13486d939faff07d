"""Copy the benchmark results tables into README.md and the pages of docs/.

Every block between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``
in those documents is replaced by the table of
``benchmarks/results/NAME.json`` (written by ``benchmarks/NAME.py``) and one
line naming the command, date and machine that produced it. Text outside the
markers is left alone.

    .venv/bin/python scripts/update_readme.py           # rewrite the documents
    .venv/bin/python scripts/update_readme.py --check   # exit 1 if one is out of date

>>> blocks = {"demo": "| a |\\n|---|\\n| 1 |"}
>>> print(replace_blocks("intro\\n<!-- results:demo -->\\nold\\n<!-- /results:demo -->\\n", blocks))
intro
<!-- results:demo -->
| a |
|---|
| 1 |
<!-- /results:demo -->
<BLANKLINE>
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join("benchmarks", "results")
DOCUMENTS = ("README.md", *sorted(
    os.path.join("docs", name) for name in os.listdir(os.path.join(ROOT, "docs"))
    if name.endswith(".md")
))  # fmt: skip
MARKER = re.compile(r"<!-- (/?)results:([\w.-]+) -->")


def replace_blocks(text: str, blocks: dict) -> str:
    """Replace the body of every ``results:NAME`` block in ``text`` with ``blocks[NAME]``.

    Raises:
        ValueError: a marker without its partner, nested blocks, or a block
            whose name is not in ``blocks``.
    """
    out, position, open_marker = [], 0, None
    for match in MARKER.finditer(text):
        closing, name = bool(match.group(1)), match.group(2)
        line = text.count("\n", 0, match.start()) + 1
        if not closing:
            if open_marker is not None:
                raise ValueError(
                    f"Line {line}: block {name!r} opens inside block {open_marker!r}. "
                    f"Close it first with <!-- /results:{open_marker} -->."
                )
            if name not in blocks:
                raise ValueError(
                    f"Line {line}: no results named {name!r}. Run benchmarks/{name}.py "
                    f"(it writes {RESULTS}/{name}.json), or remove the markers. "
                    f"Known: {sorted(blocks)}"
                )
            out.append(text[position : match.end()])
            out.append("\n" + blocks[name].strip("\n") + "\n")
            open_marker = name
        else:
            if open_marker != name:
                raise ValueError(
                    f"Line {line}: <!-- /results:{name} --> closes "
                    + (f"block {open_marker!r}." if open_marker else "no open block.")
                )
            open_marker, position = None, match.start()
    if open_marker is not None:
        raise ValueError(
            f"Block {open_marker!r} is never closed: add <!-- /results:{open_marker} -->."
        )
    out.append(text[position:])
    return "".join(out)


def load_records(root: str = ROOT) -> dict:
    """Every ``benchmarks/results/*.json`` record, by name."""
    folder = os.path.join(root, RESULTS)
    records = {}
    for filename in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if filename.endswith(".json"):
            with open(os.path.join(folder, filename), encoding="utf-8") as f:
                records[filename[: -len(".json")]] = json.load(f)
    return records


def render(record: dict, document: str) -> str:
    """A record's table and a provenance line, with links relative to ``document``."""
    link = os.path.relpath(
        os.path.join(RESULTS, f"{record['name']}.md"), os.path.dirname(document) or "."
    ).replace(os.sep, "/")
    info = record.get("machine") or {}
    machine = ", ".join(
        part
        for part in (
            info.get("cpu"),
            f"{info['cpu_count']} CPU cores" if info.get("cpu_count") else None,
            f"TensorFlow {info['tensorflow']}" if info.get("tensorflow") else None,
        )
        if part
    )
    line = f"Source: [{link}]({link}), `{record['command']}`, {record['date']}"
    line += f", {machine}." if machine else "."
    if record.get("note"):
        line += f" {record['note']}"
    return f"{record['table'].strip()}\n\n<sub>{line}</sub>"


def update(root: str = ROOT, check: bool = False) -> list[str]:
    """Rewrite (or with ``check``, only compare) the documents; return those out of date."""
    records = load_records(root)
    stale, shown = [], set()
    for document in DOCUMENTS:
        path = os.path.join(root, document)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        names = {m.group(2) for m in MARKER.finditer(text)}
        shown |= names
        blocks = {name: render(records[name], document) for name in names if name in records}
        try:
            new = replace_blocks(text, blocks)
        except ValueError as error:
            raise ValueError(f"{document}: {error}") from None
        if new != text:
            stale.append(document)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    for name in sorted(set(records) - shown):
        print(f"note: {RESULTS}/{name}.json is not shown in any document", file=sys.stderr)
    return stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a document is out of date"
    )
    args = parser.parse_args(argv)
    try:
        stale = update(check=args.check)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check and stale:
        print(
            f"out of date: {', '.join(stale)}. Run: python scripts/update_readme.py",
            file=sys.stderr,
        )
        return 1
    if stale and not args.check:
        print(f"updated: {', '.join(stale)}")
    else:
        print("up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
