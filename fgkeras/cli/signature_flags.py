"""Derive argparse flags from a function's signature and its ``Args:`` docstring.

So every command-line flag maps 1:1 to a keyword argument of the library
function and their documentation cannot drift apart. Flags default to
`argparse.SUPPRESS`: what the user does not type is not passed at all.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re


def docstring_args(function) -> dict[str, str]:
    """Map argument name -> first sentence of its ``Args:`` entry.

    >>> def f(x=1):
    ...     '''Do it.
    ...
    ...     Args:
    ...         x: how much. Defaults to 1.
    ...     '''
    >>> docstring_args(f)
    {'x': 'how much. Defaults to 1.'}
    """
    doc = inspect.getdoc(function) or ""
    section = doc.split("Args:", 1)[1] if "Args:" in doc else ""
    section = re.split(r"\n\S", section, maxsplit=1)[0]
    entries = {}
    for match in re.finditer(r"^\s{4}(\w+): (.*?)(?=^\s{4}\w+: |\Z)", section, re.M | re.S):
        entries[match.group(1)] = " ".join(match.group(2).split())
    return entries


def parse_value(kind: str):
    """A converter for an annotation string: "int", "float", "dict", else str.

    ``none``/``null`` become None for optional values; dicts are JSON; a
    ``list`` flag takes several values (digits become ints, as indices).

    >>> parse_value("int | None")("none") is None, parse_value("float")("0.5")
    (True, 0.5)
    """

    def convert(text: str):
        if "None" in kind and text.lower() in ("none", "null"):
            return None
        if kind.startswith("dict"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise argparse.ArgumentTypeError(f"expected a JSON object: {error}") from error
            if not isinstance(value, dict):
                raise argparse.ArgumentTypeError("expected a JSON object such as '{\"a\": 1}'")
            return value
        if kind.startswith("int"):
            return int(text)
        if kind.startswith("float"):
            return float(text)
        if kind.startswith("bool | str"):
            return {"true": True, "false": False}.get(text.lower(), text)
        if kind.startswith("int | str") or kind.startswith("list"):
            return int(text) if text.lstrip("-").isdigit() else text
        return text

    convert.__name__ = kind.split(" ")[0]
    return convert


def add_function_flags(parser, function, positional=(), skip=()) -> None:
    """Add one flag per keyword argument of ``function`` (``--snake-case``).

    >>> def f(name="a", epochs: int = 3, fast: bool = False):
    ...     '''Args:
    ...         epochs: passes. Defaults to 3.
    ...     '''
    >>> parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    >>> add_function_flags(parser, f, positional=("name",))
    >>> vars(parser.parse_args(["b", "--epochs", "5", "--fast"]))
    {'name': 'b', 'epochs': 5, 'fast': True}
    """
    help_texts = docstring_args(function)
    for name, parameter in inspect.signature(function).parameters.items():
        if name in skip or parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
            continue
        kind = str(parameter.annotation) if parameter.annotation is not parameter.empty else ""
        if not kind and parameter.default is not parameter.empty:
            kind = type(parameter.default).__name__
        text = help_texts.get(name, "")
        if name in positional:
            parser.add_argument(name, nargs="?", help=text, type=parse_value(kind))
        elif kind.startswith("list"):
            parser.add_argument(
                "--" + name.replace("_", "-"),
                dest=name,
                nargs="+",
                type=parse_value(kind),
                help=text,
            )
        elif kind == "bool":
            parser.add_argument(
                "--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, help=text
            )
        else:
            parser.add_argument(
                "--" + name.replace("_", "-"), dest=name, type=parse_value(kind), help=text
            )
