"""`fgkeras explain MODEL IMAGE... --out DIR`: Grad-CAM and attention overlays as PNG."""

import argparse
import json
import os

from fgkeras.cli.main import function_kwargs
from fgkeras.cli.predict import side_vector


def add_parser(subparsers) -> None:
    """Add the `explain` subcommand; its flags mirror `fgkeras.inference.explain` 1:1."""
    parser = subparsers.add_parser(
        "explain",
        help="Grad-CAM and attention-map overlays (PNG) for image files",
        description="Draw where a model looked: Grad-CAM on its 'feature_map' for every "
        "model, plus the model's own 'attention_maps*' layers when it has them. "
        "MODEL is a run directory (holding model.keras) or a .keras file.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("model", help="run directory with model.keras, or a .keras file")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--out", dest="out_dir", required=True, help="folder for the PNG files")
    parser.add_argument(
        "--class-index", dest="class_index", type=int, help="class to explain (default: top)"
    )
    parser.add_argument(
        "--names", nargs="+", help="attention layers to draw (default: every attention_maps*)"
    )
    parser.add_argument(
        "--attributes",
        dest="side",
        type=side_vector,
        metavar="V1,V2,...",
        help="for a model with a side input (attribute_guided): the side vector of every "
        "image, comma-separated, 'nan' or empty for unknown (default: all unknown)",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from fgkeras.inference.explanations import explain
    from fgkeras.inference.images import load_images
    from fgkeras.models.common import image_input_shape
    from fgkeras.training.run_dir import load_model_source

    kwargs = function_kwargs(args, "model", "images", "json")
    model, _ = load_model_source(args.model)
    size = image_input_shape(model)[:2]
    # Checked, decoded and resized as predict and the evaluation pipeline do; too
    # large an image ($FGKERAS_MAX_IMAGE_PIXELS) is refused, naming the file.
    images = load_images(args.images, size)
    stems = [os.path.splitext(os.path.basename(path))[0] for path in args.images]
    rows = explain(model, images, image_names=stems, **kwargs)
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['image']}\t{row['method']}\t{row['path']}")
    return 0
