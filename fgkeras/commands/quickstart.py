"""`fgkeras quickstart`: the main job (train, evaluate, compare, export)."""

import argparse

from fgkeras.commands.signature_flags import add_function_flags


def add_parser(subparsers) -> None:
    """Add the `quickstart` subcommand; flags mirror `fgkeras.quickstart.quickstart`."""
    from fgkeras.quickstart import quickstart

    parser = subparsers.add_parser(
        "quickstart",
        help="train a baseline and a bilinear model on built-in data, compare, export the better",
        argument_default=argparse.SUPPRESS,
    )
    add_function_flags(parser, quickstart, skip=("models",))
    parser.add_argument("--models", nargs="+", help="registered models to compare")
    parser.set_defaults(func=run)


def run(args) -> int:
    from fgkeras.cli import function_kwargs
    from fgkeras.quickstart import quickstart

    kwargs = function_kwargs(args)
    if "models" in kwargs:
        kwargs["models"] = tuple(kwargs["models"])
    quickstart(**kwargs)
    return 0
