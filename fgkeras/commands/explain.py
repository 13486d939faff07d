"""`fgkeras explain MODEL IMAGE... --out DIR`: Grad-CAM and attention overlays as PNG."""

import argparse
import json
import os

from fgkeras.cli import function_kwargs


def add_parser(subparsers) -> None:
    """Add the `explain` subcommand; its flags mirror `fgkeras.explain.explain` 1:1."""
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
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(func=run)


def model_path(model) -> str:
    """The .keras file of a run directory or a .keras path; FileNotFoundError otherwise.

    >>> model_path("/nonexistent/run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No model found at '/nonexistent/run': ...
    """
    candidate = os.path.join(model, "model.keras") if os.path.isdir(model) else model
    if not (os.path.isfile(candidate) and candidate.endswith(".keras")):
        raise FileNotFoundError(
            f"No model found at {model!r}: pass a run directory holding model.keras, "
            "or a .keras file."
        )
    return candidate


def load_images(paths, size):
    """Read image files as a float32 (n, height, width, 3) batch resized to ``size``."""
    import numpy as np
    import tensorflow as tf

    images = []
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Image file not found: {path!r}")
        try:
            image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(f"Not a readable image file: {path!r}") from error
        images.append(tf.image.resize(tf.cast(image, tf.float32), size).numpy())
    return np.stack(images)


def run(args) -> int:
    import keras

    import fgkeras.models  # noqa: F401  (registers the zoo's layers and models)
    from fgkeras.explain import explain

    kwargs = function_kwargs(args, "model", "images", "json")
    model = keras.models.load_model(model_path(args.model))
    size = tuple(model.input_shape[1:3])
    images = load_images(args.images, size)
    stems = [os.path.splitext(os.path.basename(path))[0] for path in args.images]
    rows = explain(model, images, image_names=stems, **kwargs)
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['image']}\t{row['method']}\t{row['path']}")
    return 0
