"""`fgkeras zeroshot MODEL --unseen ...`: the command-line face of `fgkeras.evaluate_zero_shot`."""

import argparse
import json

from fgkeras.cli.main import function_kwargs


def add_parser(subparsers) -> None:
    """Add the `zeroshot` subcommand; its flags mirror `evaluate_zero_shot`."""
    parser = subparsers.add_parser(
        "zeroshot",
        help="zero-shot accuracy on classes a model never saw (attributes or text)",
        description="Score the test images of --unseen classes against those classes' "
        "attribute vectors (source_info class_attributes; a zero_shot_attributes model) or "
        "descriptions (class_descriptions; an image_text model), and print the per-class "
        "top-1 next to chance. With seen classes (--seen, "
        "else the run's own --classes), also the generalized setting: every image against "
        "seen and unseen classes together, and the harmonic mean H of the two accuracies. "
        "MODEL is a run directory or a .keras file (then pass --source).",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("model", help="run directory with model.keras, or a .keras file")
    parser.add_argument(
        "--unseen", nargs="+", required=True, metavar="CLASS", help="class names or indices"
    )
    parser.add_argument(
        "--seen", nargs="+", metavar="CLASS", help="training classes (default: the run's)"
    )
    parser.add_argument(
        "--checkpoint",
        choices=("final", "last", "best"),
        help="model.keras, last.keras or best.keras of a run (default: final)",
    )
    parser.add_argument("--source", help="data source name or path (default: the run's)")
    parser.add_argument("--split", help="split to score (default: test)")
    parser.add_argument("--batch-size", dest="batch_size", type=int, help="default: 64")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=run)


def format_results(result, model_label=None) -> str:
    """The text report of `evaluate_zero_shot`'s results.

    >>> r = {"unseen_top1": 0.5, "unseen_top1_images": 0.52, "chance": 0.25,
    ...      "unseen_classes": 4, "num_images": 100, "source": "synthetic", "split": "test",
    ...      "generalized": {"seen_top1": 0.8, "unseen_top1": 0.2, "harmonic_mean": 0.32,
    ...                      "seen_classes": 12, "num_images": 400}}
    >>> print(format_results(r))
    data             synthetic, split test: 100 images of 4 unseen classes
    zero-shot        top-1 50.0% per class (52.0% of images); chance 25.0%
    generalized      seen 80.0%, unseen 20.0%, H 32.0% (400 images, 12 + 4 classes)
    """
    lines = [f"model            {model_label}"] if model_label else []
    lines += [
        f"data             {result['source']}, split {result['split']}: "
        f"{result['num_images']} images of {result['unseen_classes']} unseen classes",
        f"zero-shot        top-1 {result['unseen_top1']:.1%} per class "
        f"({result['unseen_top1_images']:.1%} of images); chance {result['chance']:.1%}",
    ]
    g = result.get("generalized")
    if g:
        lines.append(
            f"generalized      seen {g['seen_top1']:.1%}, unseen {g['unseen_top1']:.1%}, "
            f"H {g['harmonic_mean']:.1%} ({g['num_images']} images, {g['seen_classes']} + "
            f"{result['unseen_classes']} classes)"
        )
    return "\n".join(lines)


def run(args) -> int:
    from fgkeras.evaluation.few_shot import model_image_size
    from fgkeras.evaluation.zero_shot import evaluate_zero_shot
    from fgkeras.training.run_dir import load_model_source

    checkpoint = getattr(args, "checkpoint", "final")
    model, run_dir = load_model_source(args.model, checkpoint)
    kwargs = function_kwargs(args, "model", "checkpoint", "json", "source")
    source = getattr(args, "source", None)
    if run_dir is not None:
        config = run_dir.config
        if source is None:
            data = run_dir.data_options()
            source = data["source"]
            kwargs = {**data["source_options"], **kwargs}
        kwargs.update({k: config[k] for k in ("resize_size", "channels") if config.get(k)})
        if "seen" not in kwargs and config.get("classes"):
            kwargs["seen"] = list(config["classes"])
        if model_image_size(model) is None:
            kwargs["image_size"] = config.get("image_size")
    if source is None:
        raise ValueError(
            f"{args.model!r} is a .keras file, which does not say which data it was trained "
            "on: pass --source."
        )
    kwargs["seen"] = _indices_as_ints(kwargs.get("seen"))
    kwargs["unseen"] = _indices_as_ints(kwargs["unseen"])
    result = evaluate_zero_shot(model, source, **kwargs)
    if getattr(args, "json", False):
        print(json.dumps(result, indent=1))
        return 0
    label = args.model + (f" (checkpoint {checkpoint})" if run_dir is not None else "")
    print(format_results(result, label))
    return 0


def _indices_as_ints(classes):
    """Command-line class entries: digit strings are indices (as `fgkeras fewshot` reads them)."""
    if classes is None:
        return None
    return [int(c) if isinstance(c, str) and c.isdigit() else c for c in classes]
