"""`fgkeras list` and `fgkeras card`: what the zoo holds."""

import argparse
import json

from fgkeras.models.registry import list_models, model_card


def add_parser(subparsers) -> None:
    """Add the `list` and `card` subcommands."""
    listing = subparsers.add_parser(
        "list",
        help="list registered models with family and paper",
        argument_default=argparse.SUPPRESS,
    )
    listing.add_argument("pattern", nargs="?", help="fnmatch pattern over names, families, tags")
    listing.add_argument("--json", action="store_true", help="print JSON model cards")
    listing.set_defaults(func=run_list)
    card = subparsers.add_parser("card", help="print one model's card as JSON")
    card.add_argument("name", help="a registered model name")
    card.set_defaults(func=run_card)


def format_table(names: list[str]) -> str:
    """A plain-text table of model cards.

    >>> print(format_table(["cbp"]))  # doctest: +ELLIPSIS
    name  family    year  input  paper
    cbp   bilinear  2016  448    Compact Bilinear Pooling
    """
    rows = [("name", "family", "year", "input", "paper")]
    for name in names:
        card = model_card(name)
        size = card["data_config"]["input_size"][0]
        rows.append((name, card["family"], str(card["year"] or ""), str(size), card["paper"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]
        for row in rows
    )


def run_list(args) -> int:
    names = list_models(getattr(args, "pattern", None))
    if getattr(args, "json", False):
        print(json.dumps([model_card(name) for name in names], indent=2))
    else:
        print(format_table(names))
    return 0


def run_card(args) -> int:
    print(json.dumps(model_card(args.name), indent=2))
    return 0
