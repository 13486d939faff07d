"""`fgkeras predict MODEL IMAGE...`: the command-line face of `fgkeras.predict`.

fgkeras predict saved_models/bcnn photos/                        # the classifier
fgkeras predict saved_models/bcnn photos/ --signature nearest    # the exported gallery
fgkeras predict runs/guided photos/ --attributes 1,0,0,nan,nan    # with a side vector
fgkeras predict runs/bcnn photos/ --tta flip                      # image + mirror, mean softmax
"""

import argparse
import json

from fgkeras.models.tta import TTA_MODES


def add_parser(subparsers) -> None:
    """Add the `predict` subcommand; its flags mirror `predict` 1:1."""
    parser = subparsers.add_parser(
        "predict",
        help="top-k labels with scores for image files or folders",
        description="Classify image files (or every image in folders) with a run directory, "
        "a .keras file or an exported SavedModel. Exits with 1 when some files could "
        "not be read (the others are still reported).",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("model", help="run directory, .keras file or SavedModel folder")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="files or folders")
    parser.add_argument("--top-k", dest="top_k", type=int, help="classes per image (default: 5)")
    parser.add_argument("--batch-size", dest="batch_size", type=int, help="default: 32")
    parser.add_argument(
        "--resize-size",
        dest="resize_size",
        type=int,
        help="shorter side before the centre crop (default: the run's, else none)",
    )
    parser.add_argument(
        "--signature",
        metavar="NAME",
        help="SavedModel signature to run: 'nearest' ranks the classes of the gallery exported "
        "with the model (fgkeras export --gallery) by cosine distance (default: the classifier)",
    )
    parser.add_argument(
        "--attributes",
        dest="side",
        type=side_vector,
        metavar="V1,V2,...",
        help="for a model with a side input (attribute_guided): the side vector known for "
        "every image, comma-separated, 'nan' or empty for an unknown entry (default: all "
        "unknown)",
    )
    parser.add_argument(
        "--tta",
        choices=TTA_MODES,
        help="test-time augmentation: 'flip' scores each image by the mean softmax of the "
        "image and its mirror (a SavedModel must have been exported with --tta flip; "
        "default: none)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def side_vector(text: str) -> list:
    """``"1,0,,nan"`` → ``[1.0, 0.0, nan, nan]``: a side vector, empty or nan for unknown.

    >>> side_vector("1, 0,,nan")
    [1.0, 0.0, nan, nan]
    """
    values = []
    for item in text.split(","):
        item = item.strip()
        try:
            values.append(float(item) if item else float("nan"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a number: {item!r} (write nan or leave it empty for an unknown entry)"
            ) from None
    return values


def format_table(results) -> str:
    """A plain-text table: one row per class and file, errors on their own row.

    The last column is the ``score``, or the ``distance`` for nearest gallery
    classes (``--signature nearest``).

    >>> ant, bee = {"label": "ant", "score": 0.9}, {"label": "bee", "score": 0.1}
    >>> rows = [{"path": "a.png", "error": None, "predictions": [ant, bee]},
    ...         {"path": "b.png", "error": "not an image file", "predictions": []}]
    >>> print(format_table(rows))
    file   rank  label  score
    a.png  1     ant    0.9000
           2     bee    0.1000
    b.png  error: not an image file
    >>> print(format_table([{"path": "c.png", "error": None,
    ...                      "predictions": [{"label": "wren", "distance": 0.0312}]}]))
    file   rank  label  distance
    c.png  1     wren   0.0312
    """
    predictions = [p for result in results for p in result["predictions"]]
    column = "distance" if predictions and "distance" in predictions[0] else "score"
    rows = [("file", "rank", "label", column)]
    for result in results:
        if result["error"]:
            rows.append((result["path"], f"error: {result['error']}"))
        for rank, p in enumerate(result["predictions"], 1):
            path = result["path"] if rank == 1 else ""
            rows.append((path, str(rank), p["label"], f"{p[column]:.4f}"))
    widths = [max(len(row[0]) for row in rows)]
    widths += [max(len(row[i]) for row in rows if len(row) == 4) for i in (1, 2)]
    lines = []
    for row in rows:
        if len(row) == 2:
            lines.append(f"{row[0].ljust(widths[0])}  {row[1]}")
        else:
            cells = [cell.ljust(width) for cell, width in zip(row, widths)]
            lines.append("  ".join([*cells, row[3]]))
    return "\n".join(lines)


def run(args) -> int:
    from fgkeras.cli.main import function_kwargs
    from fgkeras.inference.prediction import predict

    as_json = getattr(args, "json", False)
    results = predict(**function_kwargs(args, "json"))
    print(json.dumps(results, indent=1) if as_json else format_table(results))
    return 1 if any(result["error"] for result in results) else 0
