"""`fgkeras data`: dataset utilities (`data sources`, `data pack SOURCE --to DIR`).

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_parser(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["data", "pack", "synthetic", "--to", "out", "--num-examples", "8"])
>>> sorted(pack_kwargs(args).items())
[('num_examples', 8), ('source', 'synthetic'), ('to', 'out')]
"""

from __future__ import annotations

import argparse


def _splits(text):
    return [s.strip() for s in text.split(",") if s.strip()]


def add_parser(subparsers) -> None:
    """Add the `data` command with its `sources` and `pack` subcommands."""
    parser = subparsers.add_parser("data", help="dataset utilities: list sources, pack TFRecords")
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    sources = sub.add_parser("sources", help="list the data source names")
    sources.set_defaults(func=run_sources)
    pack = sub.add_parser(
        "pack",
        help="write a source's splits as sharded TFRecords (read back with load(DIR))",
        argument_default=argparse.SUPPRESS,
    )
    pack.add_argument("source", help="a source name (see `fgkeras data sources`) or a path")
    pack.add_argument("--to", required=True, help="output folder")
    pack.add_argument(
        "--splits", type=_splits, help="comma-separated splits to write (default: train)"
    )
    pack.add_argument("--shard-size", dest="shard_size", type=int, help="examples per shard")
    pack.add_argument("--on-error", dest="on_error", choices=["skip", "raise"])
    pack.add_argument("--data-dir", dest="data_dir", help="the source's data folder")
    pack.add_argument("--num-classes", dest="num_classes", type=int, help="synthetic: classes")
    pack.add_argument(
        "--num-examples", dest="num_examples", type=int, help="synthetic: examples per split"
    )
    pack.add_argument("--difficulty", type=float, help="synthetic: 0 (easy) to 1 (hard)")
    pack.add_argument("--validation-split", dest="validation_split", type=float,
                      help="folder/CSV: fraction carved out as 'validation'")  # fmt: skip
    pack.set_defaults(func=run_pack)


def pack_kwargs(args):
    """The keyword arguments of :func:`fgkeras.data.pack` given on the command line."""
    skip = {"func", "command", "data_command"}
    return {k: v for k, v in vars(args).items() if k not in skip}


def run_sources(args) -> int:
    from fgkeras.data import list_sources

    print("\n".join(list_sources()))
    return 0


def run_pack(args) -> int:
    from fgkeras.data import pack

    kwargs = pack_kwargs(args)
    manifest = pack(kwargs.pop("source"), kwargs.pop("to"), **kwargs)
    for split, entry in manifest["splits"].items():
        print(f"{split}: {entry['num_examples']} examples in {len(entry['shards'])} shard(s)")
    return 0
