"""The `fgkeras` command line: a thin argparse layer over the library.

Each subcommand lives in its own module under `fgkeras.cli` and maps its
flags 1:1 to a library function's arguments. Optional flags default to
`argparse.SUPPRESS`, so a flag the user did not give never overrides a
model's or function's own default.

>>> main(["list", "bcnn"])  # doctest: +ELLIPSIS
name...bcnn...
0
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Errors a user can cause and fix: OSError covers missing, unreadable and
# unwritable files; FloatingPointError is a diverging run (DivergenceError).
USER_ERRORS = (ValueError, OSError, FloatingPointError)

# Subcommand modules, in the order `fgkeras --help` lists them.
COMMAND_MODULES = (
    "quickstart",
    "models",
    "data",
    "train",
    "evaluate",
    "fewshot",
    "zeroshot",
    "retrieve",
    "predict",
    "export",
    "explain",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand.

    >>> "list" in build_parser().format_help()
    True
    """
    parser = argparse.ArgumentParser(
        prog="fgkeras", description="Fine-grained image recognition with Keras 3."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"fgkeras.cli.{module_name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for user errors).

    User errors (bad values, missing or unreadable files, a diverging run, a
    model that cannot be loaded, no network for downloads) are printed as one
    line, ``fgkeras COMMAND: error: ...``, never as a traceback; set
    FGKERAS_DEBUG=1 to see it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as error:
        if os.environ.get("FGKERAS_DEBUG"):
            raise
        print(f"fgkeras {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fgkeras {args.command}: interrupted", file=sys.stderr)
        return 130


def one_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none).

    >>> one_line(ValueError("bad value. Received: x=3"))
    'bad value. Received: x=3'
    >>> one_line(FileNotFoundError())
    'FileNotFoundError'
    """
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def function_kwargs(args: argparse.Namespace, *exclude: str) -> dict:
    """The parsed flags as keyword arguments, without argparse's bookkeeping.

    >>> function_kwargs(argparse.Namespace(command="x", func=print, epochs=3))
    {'epochs': 3}
    """
    skip = {"command", "func", *exclude}
    return {key: value for key, value in vars(args).items() if key not in skip}


if __name__ == "__main__":
    sys.exit(main())
