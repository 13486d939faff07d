"""`fgkeras train`: the command-line face of `fgkeras.train`."""

import argparse

from fgkeras.commands.signature_flags import add_function_flags


def add_parser(subparsers) -> None:
    """Add the `train` subcommand; its flags mirror `fgkeras.train` 1:1."""
    from fgkeras.training import train

    parser = subparsers.add_parser(
        "train",
        help="train a model and write a resumable run directory",
        description="Train a registered model. Every flag is an argument of fgkeras.train; "
        "flags you leave out keep the function's defaults. --config FILE reads them from "
        "JSON/YAML (explicit flags win).",
        argument_default=argparse.SUPPRESS,
    )
    add_function_flags(parser, train, positional=("model",))
    parser.set_defaults(func=run)


def run(args) -> int:
    from fgkeras.cli import function_kwargs
    from fgkeras.training import train

    result = train(**function_kwargs(args))
    metrics = result.metrics
    summary = ", ".join(
        f"{key}={metrics[key]:.4f}"
        for key in ("top1_accuracy", "top_k_accuracy", "mean_per_class_accuracy")
        if key in metrics
    )
    print(f"run directory: {result.run_dir}  {summary}")
    return 0
