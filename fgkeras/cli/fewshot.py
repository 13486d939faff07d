"""`fgkeras fewshot MODEL`: the command-line face of `fgkeras.evaluate_few_shot`."""

import argparse
import json
import warnings

from fgkeras.cli.main import function_kwargs


def add_parser(subparsers) -> None:
    """Add the `fewshot` subcommand; its flags mirror `evaluate_few_shot` 1:1."""
    parser = subparsers.add_parser(
        "fewshot",
        help="few-shot accuracy of a model's embeddings: N-way K-shot episodes",
        description="Classify N-way K-shot episodes by the nearest class prototype (mean "
        "support embedding, cosine similarity) and print the mean accuracy with its 95% "
        "confidence interval. MODEL is a run directory or a .keras file. Without --source, "
        "a run's own data source and options are used (as evaluate does); pass --source "
        "and --classes to measure novel classes.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("model", help="run directory with model.keras, or a .keras file")
    parser.add_argument(
        "--checkpoint",
        choices=("final", "last", "best"),
        help="model.keras, last.keras or best.keras of a run (default: final)",
    )
    parser.add_argument("--source", help="data source name or path (default: the run's)")
    parser.add_argument("--split", help="split to draw episodes from (default: test)")
    parser.add_argument("--ways", type=int, help="classes per episode (default: 5)")
    parser.add_argument(
        "--shots",
        type=int,
        nargs="+",
        help="support images per class; several values share one embedding pass (default: 1)",
    )
    parser.add_argument("--queries", type=int, help="query images per class (default: 15)")
    parser.add_argument("--episodes", type=int, help="number of episodes (default: 600)")
    parser.add_argument(
        "--classes", nargs="+", metavar="CLASS", help="class names or indices (default: all)"
    )
    parser.add_argument("--seed", type=int, help="seed of the episodes (default: 0)")
    parser.add_argument(
        "--image-size", dest="image_size", type=int, help="default: the model's input size"
    )
    parser.add_argument("--batch-size", dest="batch_size", type=int, help="default: 64")
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="OUT",
        help="print the results as JSON (a list, one entry per --shots value), or write "
        "them to the file OUT",
    )
    parser.set_defaults(func=run)


def format_results(results, model_label=None) -> str:
    """The text report of few-shot results (one line per shots value).

    >>> r = {"accuracy": 0.625, "ci95": 0.0113, "std": 0.14, "ways": 5, "shots": 1,
    ...      "queries": 15, "episodes": 600, "seed": 0, "num_classes": 8,
    ...      "skipped_classes": [], "source": "synthetic", "split": "test",
    ...      "num_images": 80, "embedding_layer": "pooler", "embedding_dim": 64}
    >>> print(format_results([r], "runs/x"))
    model            runs/x
    data             synthetic, split test: 80 images of 8 usable classes
    embedding        'pooler' (64-d); 600 episodes, 15 queries per class, seed 0
    5-way 1-shot     62.5% ± 1.1%  (95% confidence interval; std 14.0%)
    """
    first = results[0]
    lines = [f"model            {model_label}"] if model_label else []
    lines += [
        f"data             {first['source']}, split {first['split']}: {first['num_images']} "
        f"images of {first['num_classes']} usable classes",
        f"embedding        {first['embedding_layer']!r} ({first['embedding_dim']}-d); "
        f"{first['episodes']} episodes, {first['queries']} queries per class, "
        f"seed {first['seed']}",
    ]
    for r in results:
        setting = f"{r['ways']}-way {r['shots']}-shot"
        lines.append(
            f"{setting:<16} {r['accuracy']:.1%} ± {r['ci95']:.1%}  "
            f"(95% confidence interval; std {r['std']:.1%})"
        )
        skipped = r["skipped_classes"]
        if skipped:
            names = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
            lines.append(
                f"  left out: {len(skipped)} classes with fewer than "
                f"{r['shots'] + r['queries']} images ({names})"
            )
    return "\n".join(lines)


def run(args) -> int:
    from fgkeras.evaluation.few_shot import evaluate_few_shot, model_image_size
    from fgkeras.training.run_dir import load_model_source, write_json

    checkpoint = getattr(args, "checkpoint", "final")
    model, run_dir = load_model_source(args.model, checkpoint)
    kwargs = function_kwargs(args, "model", "checkpoint", "json", "source")
    if "shots" in kwargs and len(kwargs["shots"]) == 1:
        kwargs["shots"] = kwargs["shots"][0]
    source = getattr(args, "source", None)
    if run_dir is not None:
        data = run_dir.data_options() if source is None else None
        if data is not None:  # the run's own data, read as evaluate reads it
            source = data["source"]
            kwargs = {**data["options"], **data["source_options"], **kwargs}
        else:  # another source: keep only how the model sees images
            options = run_dir.config
            kwargs = {
                **{k: options[k] for k in ("resize_size", "channels") if options.get(k)},
                **kwargs,
            }
        if "image_size" not in kwargs and model_image_size(model) is None:
            kwargs["image_size"] = run_dir.config.get("image_size")
    if source is None:
        raise ValueError(
            f"{args.model!r} is a .keras file, which does not say which data it was trained "
            "on: pass --source."
        )
    with warnings.catch_warnings():  # the report names the classes left out
        warnings.filterwarnings("ignore", message=".*left out of the episodes")
        results = evaluate_few_shot(model, source, **kwargs)
    results = results if isinstance(results, list) else [results]
    out = getattr(args, "json", None)
    if out == "-":
        print(json.dumps(results, indent=1))
        return 0
    label = args.model + (f" (checkpoint {checkpoint})" if run_dir is not None else "")
    print(format_results(results, label))
    if out is not None:
        write_json(out, results)
        print(f"written to       {out}")
    return 0
