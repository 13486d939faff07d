"""`fgkeras train`: the command-line face of `fgkeras.train`."""

import argparse

from fgkeras.cli.signature_flags import add_function_flags
from fgkeras.training.config import TrainConfig


def add_parser(subparsers) -> None:
    """Add the `train` subcommand; its flags are the fields of `TrainConfig`, 1:1."""
    parser = subparsers.add_parser(
        "train",
        help="train a model and write a resumable run directory",
        description="Train a registered model. Every flag is a field of "
        "fgkeras.training.TrainConfig (an option of fgkeras.train); flags you leave out keep "
        "their defaults. --config FILE reads any of them from JSON/YAML (flags you give win).",
        argument_default=argparse.SUPPRESS,
    )
    add_function_flags(parser, TrainConfig, positional=("model",))
    parser.add_argument("--config", help="a JSON or YAML file holding any of these options")
    parser.set_defaults(func=run)


def run(args) -> int:
    from fgkeras.cli.main import function_kwargs
    from fgkeras.training import train

    result = train(**function_kwargs(args))
    metrics = result.metrics
    summary = ", ".join(
        f"{key}={metrics[key]:.4f}"
        for key in ("top1_accuracy", "top_k_accuracy", "mean_per_class_accuracy")
        if key in metrics
    )
    retrieval = metrics.get("retrieval", {})
    if "recall_at_1" in retrieval:
        summary += f", recall_at_1={retrieval['recall_at_1']:.4f}"
    severity = metrics.get("hierarchy", {}).get("mistake_severity")
    if severity is not None:
        summary += f", mistake_severity={severity:.4f}"
    print(f"run directory: {result.run_dir}  {summary}")
    return 0
