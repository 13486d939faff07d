"""`fgkeras retrieve MODEL`: search images with a sentence, or sentences with an image.

fgkeras retrieve runs/image_text --images photos/ --query "a bird with a red crown"
fgkeras retrieve runs/image_text --image photo.jpg --texts "a red bird" "a blue bird"
"""

import argparse
import json


def add_parser(subparsers) -> None:
    """Add the `retrieve` subcommand; its flags mirror `retrieve` 1:1."""
    parser = subparsers.add_parser(
        "retrieve",
        help="search images with a sentence (or sentences with an image): image_text models",
        description="Rank image files for a text --query, or --texts for one --image, by "
        "cosine similarity in an image_text model's joint space. MODEL is a run directory "
        "or a .keras file.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("model", help="run directory with model.keras, or a .keras file")
    parser.add_argument("--query", help="a description to search the --images for")
    parser.add_argument("--images", nargs="+", metavar="IMAGE_OR_DIR", help="files or folders")
    parser.add_argument("--image", help="an image file to find the best --texts for")
    parser.add_argument("--texts", nargs="+", metavar="TEXT", help="candidate descriptions")
    parser.add_argument("--top-k", dest="top_k", type=int, help="results (default: 5)")
    parser.add_argument(
        "--checkpoint",
        choices=("final", "last", "best"),
        help="model.keras, last.keras or best.keras of a run (default: final)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def format_results(found) -> str:
    """The text report of `retrieve`.

    >>> print(format_results({"query": "a red bird", "results": [
    ...     {"rank": 1, "score": 0.91, "image": "a.png"},
    ...     {"rank": 2, "score": 0.5, "image": "b.png"}]}))
    query: a red bird
      1  0.910  a.png
      2  0.500  b.png
    """
    lines = [f"query: {found['query']}"]
    for r in found["results"]:
        lines.append(f"  {r['rank']}  {r['score']:.3f}  {r.get('image', r.get('text'))}")
    return "\n".join(lines)


def run(args) -> int:
    from fgkeras.cli.main import function_kwargs
    from fgkeras.inference.text_retrieval import retrieve
    from fgkeras.training.run_dir import load_model_source

    model, run_dir = load_model_source(args.model, getattr(args, "checkpoint", "final"))
    kwargs = function_kwargs(args, "model", "checkpoint", "json")
    if run_dir is not None and run_dir.config.get("resize_size"):
        kwargs.setdefault("resize_size", run_dir.config["resize_size"])
    found = retrieve(model, **kwargs)
    print(json.dumps(found, indent=1) if getattr(args, "json", False) else format_results(found))
    return 0
