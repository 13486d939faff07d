"""`fgkeras export`: a training run (or a .keras file) to a TF Serving version.

    fgkeras export runs/bcnn --to saved_models/bcnn --verify --tflite float16 int8
    fgkeras export runs/bcnn --gallery gallery/ --gallery-mode all   # + `nearest` signature
    fgkeras export runs/bcnn --tta flip --verify   # image + mirror averaged in the graph

Every flag maps to an argument of `fgkeras.serving.export`; unset flags keep
that function's defaults. ``--gallery``, ``--gallery-mode`` and
``--gallery-split`` map to `fgkeras.serving.gallery.build_gallery`'s
``source``, ``mode`` and ``split``; the gallery is embedded at the export's
``resize_size``.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings

from fgkeras.models.tta import TTA_MODES
from fgkeras.serving.gallery import MODES as GALLERY_MODES
from fgkeras.serving.tflite import VARIANTS


def add_parser(subparsers) -> None:
    """Add the `export` subcommand.

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_parser(parser.add_subparsers())
    >>> args = parser.parse_args(["export", "runs/x", "--tflite", "float16", "int8"])
    >>> args.source, args.tflite
    ('runs/x', ['float16', 'int8'])
    """
    parser = subparsers.add_parser(
        "export",
        help="export a trained model for TF Serving (SavedModel) and TFLite",
        description="Write SOURCE's model as a TF Serving version folder TO/<version>/ "
        "(atomically), with image-bytes, float-pixel and embedding signatures.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument(
        "source",
        help="a training run folder (model.keras, config.json, class_names.json) or a .keras file",
    )
    parser.add_argument(
        "--to",
        dest="export_dir",
        metavar="DIR",
        help="model base path; versions go in integer subfolders (default: saved_models/MODEL)",
    )
    parser.add_argument(
        "--class-names",
        metavar="FILE",
        help="class names: a JSON list or one name per line (default: the run's class_names.json)",
    )
    parser.add_argument("--version", type=int, help="version number (default: next free one)")
    parser.add_argument("--top-k", dest="top_k", type=int, help="classes returned (default: 5)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    parser.add_argument(
        "--resize-size",
        dest="resize_size",
        type=int,
        help="resize the shorter side to this, then centre-crop (default: the run's, else "
        "whole images resized to the input size)",
    )
    parser.add_argument(
        "--tflite", nargs="+", choices=VARIANTS, metavar="VARIANT", help=f"also write {VARIANTS}"
    )
    parser.add_argument(
        "--calibration-images",
        metavar="PATH",
        help="folder of training images for int8 calibration and TFLite parity "
        "(default: a sample of the run's training source)",
    )
    parser.add_argument(
        "--samples",
        dest="sample_images",
        metavar="PATH",
        help="image file or folder used for warmup and verification (default: synthetic images)",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="reload in a fresh process (without fgkeras) and compare with the Keras model",
    )
    parser.add_argument(
        "--no-warmup", dest="warmup", action="store_false", help="skip the TF Serving warmup file"
    )
    parser.add_argument(
        "--gallery",
        metavar="DIR_OR_SOURCE",
        help="labelled images (DIR/<class>/<image>, or any data source) embedded into the "
        "SavedModel for a 'nearest' signature; new classes need no training",
    )
    parser.add_argument(
        "--gallery-mode",
        dest="gallery_mode",
        choices=GALLERY_MODES,
        help="'prototypes': one mean embedding per class; 'all': every image, a class as near "
        "as its nearest image (default: prototypes)",
    )
    parser.add_argument(
        "--gallery-split",
        dest="gallery_split",
        metavar="SPLIT",
        help="split of the gallery source (default: train, which a plain folder is)",
    )
    parser.add_argument(
        "--tta",
        choices=TTA_MODES,
        help="test-time augmentation: 'flip' makes serving_default, classify_pixels and the "
        "TFLite files return the mean softmax of each image and its mirror (recorded as "
        "export.tta in assets/model_card.json; default: none)",
    )
    parser.add_argument(
        "--max-pixels",
        dest="max_pixels",
        type=int,
        metavar="N",
        help="the served model refuses images whose header declares more pixels "
        "(default: $FGKERAS_MAX_IMAGE_PIXELS, else 89478485)",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run `fgkeras export`; print the version path and reports."""
    from fgkeras.cli.main import function_kwargs
    from fgkeras.serving.samples import read_image_files
    from fgkeras.serving.savedmodel import export, read_report
    from fgkeras.serving.verify import format_signatures
    from fgkeras.serving.versions import check_export_dir

    kwargs = function_kwargs(
        args, "source", "class_names", "calibration_images", "gallery_mode", "gallery_split"
    )
    _check_gallery_flags(args)
    if "export_dir" in kwargs:  # refused before any work: nothing is loaded or written
        check_export_dir(kwargs["export_dir"])
    model, run_config, run_names = load_source(args.source)
    names_file = getattr(args, "class_names", None)
    class_names = read_class_names(names_file) if names_file else run_names
    if class_names is None:
        raise ValueError(
            f"No class names for {args.source!r}: the run has no class_names.json. "
            "Pass --class-names FILE (a JSON list or one name per line)."
        )
    if "export_dir" not in kwargs:  # the model's name is checked only when it is used
        kwargs["export_dir"] = os.path.join("saved_models", _model_name(model, run_config))
    if "resize_size" not in kwargs and run_config.get("resize_size") is not None:
        kwargs["resize_size"] = int(run_config["resize_size"])
    if "sample_images" in kwargs:
        kwargs["sample_images"] = read_image_files(kwargs["sample_images"])
    if kwargs.get("tflite"):
        kwargs["representative_data"] = _calibration(args, model, run_config, kwargs)
    if "gallery" in kwargs:
        kwargs["gallery"] = _gallery(args, model, kwargs.get("resize_size"))
    path = export(model, class_names=class_names, **kwargs)
    print(f"Exported {args.source} -> {path}")
    if kwargs.get("tta"):
        print(
            f"Test-time augmentation ({kwargs['tta']}): serving_default and classify_pixels "
            "average the softmax of each image and its mirror"
        )
    if "gallery" in kwargs:
        summary = kwargs["gallery"].summary()
        print(
            f"Gallery ({summary['mode']}): {summary['num_classes']} classes, "
            f"{summary['num_images']} images -> signature 'nearest', "
            "assets/gallery_class_names.txt"
        )
    report = read_report(path)
    if "verification" in report:
        verification = report["verification"]
        print(
            f"Verified in a fresh process without fgkeras: {verification['images']} images "
            f"({verification['jpeg_images']} JPEG), top-1 agreement "
            f"{verification['top1_agreement']:.3f}"
        )
        for check, result in verification["checks"].items():
            detail = (
                f" (max abs diff {result['max_abs_diff']:.2e} <= {result['tolerance']:.0e})"
                if "max_abs_diff" in result
                else ""
            )
            print(f"  {check}: ok{detail}")
        print("Signatures:\n" + format_signatures(verification["signatures"]))
    for variant, parity in report.get("tflite", {}).items():
        print(
            f"TFLite {variant}: {parity['size_bytes'] / 1e6:.2f} MB, top-1 agreement "
            f"{parity['top1_agreement']:.3f}, max abs diff "
            f"{parity['max_abs_diff_probabilities']:.2e} (probabilities), "
            f"{parity['latency_ms']:.2f} ms/image"
        )
    return 0


def _check_gallery_flags(args):
    """--gallery-mode and --gallery-split without --gallery are a mistake, said before any work."""
    extra = [
        flag
        for flag, dest in (("--gallery-mode", "gallery_mode"), ("--gallery-split", "gallery_split"))
        if hasattr(args, dest)
    ]
    if extra and not hasattr(args, "gallery"):
        verb = "need" if len(extra) > 1 else "needs"
        raise ValueError(f"{' and '.join(extra)} {verb} --gallery DIR_OR_SOURCE.")
    source = getattr(args, "gallery", None)
    if source is not None and not os.path.exists(source):
        from fgkeras.data import list_sources

        if source not in list_sources():
            raise FileNotFoundError(
                f"Gallery not found: {source!r}. Pass a folder of class subfolders "
                "(DIR/<class name>/<image files>) or a data source name."
            )


def _gallery(args, model, resize_size):
    """The `Gallery` of --gallery, embedded with ``model`` at the export's ``resize_size``."""
    from fgkeras.serving.gallery import build_gallery

    options = {"resize_size": resize_size} if resize_size is not None else {}
    if hasattr(args, "gallery_split"):
        options["split"] = args.gallery_split
    return build_gallery(
        model, args.gallery, mode=getattr(args, "gallery_mode", "prototypes"), **options
    )


def load_source(source) -> tuple:
    """``(model, run_config, class_names or None)`` of a run folder or a .keras file."""
    from fgkeras.training.run_dir import load_model_source

    if not os.path.exists(source):
        raise FileNotFoundError(
            f"Export source not found: {os.fspath(source)!r}. Pass a training run folder "
            "(with model.keras) or a .keras file."
        )
    model, run = load_model_source(source)
    return model, (run.config if run else {}), (run.class_names if run else None)


def read_class_names(path) -> list[str]:
    """Class names from a JSON list or a text file with one name per line.

    >>> import tempfile
    >>> path = tempfile.mktemp(suffix=".txt")
    >>> _ = open(path, "w").write("sparrow\\nwren\\n")
    >>> read_class_names(path)
    ['sparrow', 'wren']
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Class names file not found: {path!r}.")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"Class names file {path!r} is not valid JSON: {error}") from error
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names or not isinstance(names, list):
        raise ValueError(f"Class names file {path!r} holds no names.")
    return [str(name) for name in names]


def _model_name(model, config):
    """The folder name under saved_models/: one plain name, never '..' or a path."""
    from fgkeras.serving.signatures import inference_model
    from fgkeras.serving.versions import check_model_name

    return check_model_name(str(config.get("model") or inference_model(model).name))


def _calibration(args, model, config, kwargs):
    """Training images at the model's size for int8 calibration and parity, or None."""
    from fgkeras.serving.preprocess import decode_images
    from fgkeras.serving.samples import read_image_files
    from fgkeras.serving.signatures import inference_model, input_size

    size = input_size(inference_model(model))
    resize_size = kwargs.get("resize_size")
    if getattr(args, "calibration_images", None):
        files = read_image_files(args.calibration_images, limit=64)
        return decode_images(files, size, resize_size, kwargs.get("max_pixels")).numpy()
    if not config.get("source"):
        return None
    try:
        from fgkeras.data import load

        return load(
            config["source"],
            config.get("split") or "train",
            image_size=size[0],
            batch_size=16,
            resize_size=resize_size,
            crop="center",
            shuffle=True,
            seed=0,
            **(config.get("source_options") or {}),
        ).take(4)
    except Exception as error:  # any failure: fall back to synthetic images, said aloud
        warnings.warn(
            f"Could not load calibration images from the run's source {config['source']!r} "
            f"({type(error).__name__}: {error}); pass --calibration-images FOLDER.",
            stacklevel=2,
        )
        return None
