"""`fgkeras evaluate RUN_DIR`: the command-line face of `fgkeras.evaluate_run`."""

import argparse
import json
import os

from fgkeras.models.tta import TTA_MODES


def add_parser(subparsers) -> None:
    """Add the `evaluate` subcommand; its flags mirror `evaluate_run` 1:1."""
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a run: top-k, per-class accuracy, most-confused pairs, plots",
        description="Evaluate the model of a training run directory on a split of its data "
        "and write metrics.json and PNG figures next to it.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("run_dir", help="run directory written by fgkeras train")
    parser.add_argument("--split", help="split to evaluate (default: the run's validation split)")
    parser.add_argument(
        "--checkpoint",
        choices=("final", "last", "best"),
        help="model.keras, last.keras or best.keras (default: final)",
    )
    parser.add_argument("--top-k", dest="top_k", type=int, help="k of top-k accuracy (default: 5)")
    parser.add_argument("--batch-size", dest="batch_size", type=int, help="default: the run's")
    parser.add_argument(
        "--out-dir", dest="out_dir", help="default: RUN_DIR/eval-<split>-<checkpoint>"
    )
    parser.add_argument(
        "--retrieval",
        action="store_true",
        help="also score the model's embeddings: Recall@K, MAP@R, R-precision, k-NN "
        "accuracy, and draw embedding_projection.png",
    )
    parser.add_argument(
        "--tta",
        choices=TTA_MODES,
        help="test-time augmentation: 'flip' adds a separate line (and a \"tta\" block) "
        "scored on the mean softmax of each image and its mirror; the other numbers stay "
        "single-view (default: none)",
    )
    parser.add_argument("--json", action="store_true", help="print all metrics as JSON")
    parser.set_defaults(func=run)


def format_report(metrics, num_pairs=5) -> str:
    """The short text report of an evaluation.

    >>> from fgkeras.evaluation.evaluator import metrics_from_predictions
    >>> m = metrics_from_predictions([0, 1, 1], [[1, 0], [1, 0], [0, 1]], ["ant", "bee"])
    >>> print(format_report(m))
    examples         3 (2 classes)
    top-1            66.7%
    top-2            100.0%
    mean per class   75.0%
    most-confused pairs (true -> predicted: count, share of the true class)
      bee -> ant  1  50.0%
    """
    lines = []
    if "run_dir" in metrics:
        lines.append(
            f"run              {metrics['run_dir']} "
            f"(split {metrics['split']}, checkpoint {metrics['checkpoint']})"
        )
    lines += [
        f"examples         {metrics['num_examples']} ({metrics['num_classes']} classes)",
        f"top-1            {metrics['top1_accuracy']:.1%}",
        f"top-{metrics['top_k']:<2d}           {metrics['top_k_accuracy']:.1%}",
        f"mean per class   {metrics['mean_per_class_accuracy']:.1%}",
    ]
    if metrics.get("tta"):
        lines.append(format_tta(metrics["tta"]))
    retrieval = metrics.get("retrieval")
    if retrieval:
        lines.append(format_retrieval(retrieval))
    if metrics.get("hierarchy"):
        lines.append(format_hierarchy(metrics["hierarchy"]))
    if metrics.get("attributes"):
        lines.append(format_attributes(metrics["attributes"]))
    if metrics.get("image_text"):
        lines.append(format_image_text(metrics["image_text"]))
    if metrics.get("side_input"):
        lines.append(format_side_input(metrics["side_input"]))
    pairs = metrics["most_confused"][:num_pairs]
    if pairs:
        lines.append("most-confused pairs (true -> predicted: count, share of the true class)")
        width = max(len(f"{p['true']} -> {p['predicted']}") for p in pairs)
        count_width = max(len(str(p["count"])) for p in pairs)
        for p in pairs:
            name = f"{p['true']} -> {p['predicted']}"
            lines.append(f"  {name:<{width}}  {p['count']:>{count_width}}  {p['rate']:.1%}")
    else:
        lines.append("most-confused pairs: none (no errors)")
    files = metrics.get("files")
    if files:
        folder = os.path.dirname(files["metrics"])
        names = ", ".join(os.path.basename(path) for path in files.values())
        lines.append(f"written to       {folder}/ ({names})")
    return "\n".join(lines)


def format_tta(tta) -> str:
    """The test-time augmentation line of the report (its own line: the lines above
    it are single-view).

    >>> print(format_tta({"mode": "flip", "top1_accuracy": 0.9, "top_k": 5,
    ...     "top_k_accuracy": 0.99, "mean_per_class_accuracy": 0.885}))
    tta (flip)       top-1 90.0%  top-5 99.0%  mean per class 88.5%  (image + mirror, mean softmax)
    """
    return (
        f"{'tta (' + tta['mode'] + ')':<17}top-1 {tta['top1_accuracy']:.1%}  "
        f"top-{tta['top_k']} {tta['top_k_accuracy']:.1%}  "
        f"mean per class {tta['mean_per_class_accuracy']:.1%}  (image + mirror, mean softmax)"
    )


def format_retrieval(retrieval) -> str:
    """The retrieval lines of the report.

    >>> print(format_retrieval({"recall_at_1": 0.5, "recall_at_4": 0.75, "map_at_r": 0.25,
    ...     "r_precision": 0.375, "knn_accuracy": 0.5, "knn_k": 5, "num_queries": 8,
    ...     "num_skipped": 0}))
    retrieval        Recall@1 50.0%  Recall@4 75.0%
                     MAP@R 25.0%  R-precision 37.5%  5-NN 50.0%  (8 queries)
    """
    recalls = [
        f"Recall@{key[len('recall_at_') :]} {value:.1%}"
        for key, value in retrieval.items()
        if key.startswith("recall_at_")
    ]
    skipped = retrieval.get("num_skipped", 0)
    queries = f"{retrieval['num_queries']} queries" + (
        f", {skipped} alone in their class skipped" if skipped else ""
    )
    return (
        f"retrieval        {'  '.join(recalls)}\n"
        f"                 MAP@R {retrieval['map_at_r']:.1%}  "
        f"R-precision {retrieval['r_precision']:.1%}  "
        f"{retrieval['knn_k']}-NN {retrieval['knn_accuracy']:.1%}  ({queries})"
    )


def format_attributes(attributes, worst=3) -> str:
    """The attribute lines of the report: mAP, accuracy and the hardest attributes.

    >>> print(format_attributes({"mean_average_precision": 0.8, "mean_accuracy": 0.9,
    ...     "num_attributes": 3, "num_scored": 3, "per_attribute": [
    ...     {"name": "red crown", "average_precision": 0.95, "accuracy": 0.97},
    ...     {"name": "blue wing", "average_precision": 0.6, "accuracy": 0.8},
    ...     {"name": "red tail", "average_precision": 0.85, "accuracy": 0.93}]}, worst=2))
    attributes       mAP 80.0%  accuracy 90.0%  (3 attributes)
                     lowest AP: blue wing 60.0%, red tail 85.0%
    """
    scored = [a for a in attributes["per_attribute"] if a["average_precision"] is not None]
    hardest = sorted(scored, key=lambda a: a["average_precision"])[:worst]
    mean_ap = attributes["mean_average_precision"]
    lines = [
        f"attributes       mAP {'-' if mean_ap is None else f'{mean_ap:.1%}'}  "
        f"accuracy {attributes['mean_accuracy']:.1%}  ({attributes['num_attributes']} attributes"
        + (
            f", {attributes['num_attributes'] - attributes['num_scored']} without positives)"
            if attributes["num_scored"] < attributes["num_attributes"]
            else ")"
        )
    ]
    if hardest:
        names = ", ".join(f"{a['name']} {a['average_precision']:.1%}" for a in hardest)
        lines.append(f"                 lowest AP: {names}")
    return "\n".join(lines)


def format_side_input(found) -> str:
    """The line of a side-input model's report: accuracy with and without its side vector.

    >>> print(format_side_input({"inputs": ["attributes"],
    ...     "with": {"top1_accuracy": 0.9, "mean_per_class_accuracy": 0.88},
    ...     "without": {"top1_accuracy": 0.7, "mean_per_class_accuracy": 0.69}}))
    side input       top-1 90.0% with attributes, 70.0% without (unknown)
    """
    return (
        f"side input       top-1 {found['with']['top1_accuracy']:.1%} with "
        f"{', '.join(found['inputs'])}, {found['without']['top1_accuracy']:.1%} without (unknown)"
    )


def format_image_text(found) -> str:
    """The cross-modal retrieval lines of a dual encoder's report.

    >>> r = {"recall_at_1": 0.5, "recall_at_5": 0.9, "map_at_r": 0.4, "num_queries": 10}
    >>> print(format_image_text({"image_to_text": r, "text_to_image": r}))
    image -> text    Recall@1 50.0%  Recall@5 90.0%  MAP@R 40.0%  (10 queries)
    text -> image    Recall@1 50.0%  Recall@5 90.0%  MAP@R 40.0%  (10 queries)
    """
    lines = []
    for key, label in (("image_to_text", "image -> text"), ("text_to_image", "text -> image")):
        m = found[key]
        recalls = "  ".join(
            f"Recall@{k[len('recall_at_') :]} {v:.1%}" for k, v in m.items()
            if k.startswith("recall_at_")
        )  # fmt: skip
        lines.append(
            f"{label:<17}{recalls}  MAP@R {m['map_at_r']:.1%}  ({m['num_queries']} queries)"
        )
    return "\n".join(lines)


def format_hierarchy(hierarchy) -> str:
    """The label-tree lines of the report: per-level accuracy and mistake severity.

    >>> print(format_hierarchy({"levels": ["family", "species"], "level_accuracy":
    ...     {"family": 0.9, "species": 0.5}, "num_mistakes": 4, "mistake_severity": 1.25,
    ...     "mistake_distances": {"1": 3, "2": 1}}))
    per level        family 90.0%  species 50.0%
    mistake severity 1.25 (mean tree distance of 4 mistakes; distance 1: 3, 2: 1)
    """

    def levels(accuracy):
        return "  ".join(
            f"{level} {'-' if value is None else f'{value:.1%}'}"
            for level, value in accuracy.items()
        )

    lines = [f"per level        {levels(hierarchy['level_accuracy'])}"]
    if "head_level_accuracy" in hierarchy:
        lines.append(
            f"level heads      {levels(hierarchy['head_level_accuracy'])}  "
            f"(paths of the tree: {hierarchy['head_path_consistency']:.1%})"
        )
    severity = hierarchy["mistake_severity"]
    if severity is None:
        lines.append("mistake severity none (no mistakes)")
    else:
        counts = ", ".join(f"{d}: {n}" for d, n in hierarchy["mistake_distances"].items())
        lines.append(
            f"mistake severity {severity:.2f} (mean tree distance of "
            f"{hierarchy['num_mistakes']} mistakes; distance {counts})"
        )
    return "\n".join(lines)


def run(args) -> int:
    from fgkeras.cli.main import function_kwargs
    from fgkeras.evaluation.evaluator import evaluate_run

    as_json = getattr(args, "json", False)
    metrics = evaluate_run(**function_kwargs(args, "json"))
    print(json.dumps(metrics, indent=1) if as_json else format_report(metrics))
    return 0
