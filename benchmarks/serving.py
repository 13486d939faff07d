"""Serving speed: the exported SavedModel against in-process `predict`, and TFLite.

All paths run in one process on the same JPEG images:

- ``predict (pixels)``: ``model.predict`` on already decoded, resized pixels;
- ``decode + predict``: decoding and resizing with the export's own function,
  then ``model.predict`` (what a Python inference script does);
- ``SavedModel serving_default``: bytes in, decoding and resizing in the graph;
- ``SavedModel classify_pixels``: decoded pixels in;
- ``REST JSON (b64)``: the same plus building, parsing and base64-decoding
  the JSON body, and encoding the answer, as TF Serving's REST front end does;

then each TFLite variant (batch of one, median latency, size, top-1 agreement).

    python benchmarks/serving.py --model baseline --backbone mobilenetv3_small --size 224
    python benchmarks/serving.py --run runs/bcnn      # a trained model: parity is meaningful

Weights are random by default (``--weights imagenet`` needs a download); speed
does not depend on them, TFLite agreement does. Writes benchmarks/results/serving.md
and .json (``--results-dir`` elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from results_io import (  # noqa: E402
    add_results_dir_argument,
    markdown_table,
    settings_of,
    write_results,
)

import fgkeras  # noqa: E402
from fgkeras.serving import tflite as tflite_lib  # noqa: E402
from fgkeras.serving.preprocess import decode_images  # noqa: E402
from fgkeras.serving.requests import rest_body, rest_predict  # noqa: E402
from fgkeras.serving.samples import encode, synthetic_images  # noqa: E402
from fgkeras.serving.savedmodel import export  # noqa: E402
from fgkeras.serving.signatures import INPUT_NAME, ServingFunctions  # noqa: E402


def timed(fn, batches, repeats):
    """Best images/s over ``repeats`` passes over ``batches`` (after one warm-up pass)."""
    for batch in batches:
        fn(batch)
    best = 0.0
    count = sum(len(batch) for batch in batches)
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            fn(batch)
        best = max(best, count / (time.perf_counter() - start))
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="baseline")
    parser.add_argument("--backbone", default="mobilenetv3_small")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tflite", nargs="*", default=list(tflite_lib.VARIANTS))
    parser.add_argument("--weights", default=None, help='None (random) or "imagenet"')
    parser.add_argument("--run", help="benchmark a trained run folder (or .keras file) instead")
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)

    run_config, run_metrics = None, None
    if args.run:
        from fgkeras.cli.export import load_source
        from fgkeras.serving.signatures import inference_model, input_size

        model, run_config, names = load_source(args.run)
        model = inference_model(model)
        backbone = (run_config or {}).get("backbone") or "(trained run)"
        args.model, args.backbone, args.size = model.name, backbone, input_size(model)[0]
        metrics_path = os.path.join(args.run, "metrics.json")
        if os.path.isfile(metrics_path):
            with open(metrics_path) as f:
                run_metrics = json.load(f)
        args.classes = int(model.output_shape[-1])
        names = names or [f"class_{i}" for i in range(args.classes)]
    else:
        model = fgkeras.build(
            args.model,
            num_classes=args.classes,
            backbone=args.backbone,
            weights=args.weights,
            input_shape=(args.size, args.size, 3),
        )
        names = [f"class_{i}" for i in range(args.classes)]
    side = args.size + args.size // 4
    jpeg = encode(synthetic_images(args.images, size=(side, side + 16), seed=0), "jpeg")
    byte_batches = [jpeg[i : i + args.batch] for i in range(0, len(jpeg), args.batch)]
    pixel_batches = [decode_images(b, args.size).numpy() for b in byte_batches]

    with tempfile.TemporaryDirectory() as directory:
        path = export(model, os.path.join(directory, args.model), class_names=names)
        loaded = tf.saved_model.load(path)
        serve = loaded.signatures["serving_default"]
        classify = loaded.signatures["classify_pixels"]
        predict = timed(lambda x: model.predict(x, verbose=0), pixel_batches, args.repeats)
        call = tf.function(lambda x: model(x, training=False))
        decode = tf.function(lambda b: decode_images(b, args.size))
        rows = [
            ("predict (pixels)", predict),
            ("tf.function(model) (pixels)", timed(call, pixel_batches, args.repeats)),
            (
                "decode + predict",
                timed(
                    lambda b: model.predict(decode(tf.constant(b)), verbose=0),
                    byte_batches,
                    args.repeats,
                ),
            ),
            (
                "SavedModel serving_default",
                timed(lambda b: serve(**{INPUT_NAME: tf.constant(b)}), byte_batches, args.repeats),
            ),
            (
                "SavedModel classify_pixels",
                timed(
                    lambda x: classify(**{INPUT_NAME: tf.constant(x)}), pixel_batches, args.repeats
                ),
            ),
            (
                "REST JSON (b64)",
                timed(
                    lambda b: json.dumps(rest_predict(loaded, json.dumps(rest_body(b)))[1]),
                    byte_batches,
                    args.repeats,
                ),
            ),
        ]

    setting = (
        f"{args.model} / {args.backbone} at {args.size}x{args.size}, {args.classes} classes, "
        f"{args.images} JPEG images, batch {args.batch}, best of {args.repeats} passes"
    )
    print(f"{setting}, TF {tf.__version__}, {os.cpu_count()} CPUs")
    print(f"{'path':30s} {'images/s':>9s} {'vs predict':>10s}")
    for name, rate in rows:
        print(f"{name:30s} {rate:9.1f} {rate / predict:9.2f}x")

    functions = ServingFunctions(model, names)
    representative = np.concatenate(pixel_batches)[:32]
    held_out = np.concatenate(pixel_batches)[-16:]
    tflite_rows = []
    if args.tflite:
        print(
            f"\n{'TFLite':10s} {'MB':>7s} {'ms/image':>9s} {'top-1 agree':>12s} "
            f"{'max |dp|':>9s} {'max |dlogit|':>12s}"
        )
    if args.tflite and args.weights is None and not args.run:
        print("(random weights: near-uniform probabilities, so top-1 agreement is mostly ties)")
    for variant in args.tflite:
        content = tflite_lib.convert(functions, variant, representative=representative)
        report = tflite_lib.parity(content, functions, held_out, repeats=20)
        tflite_rows.append({"variant": variant, **report})
        print(
            f"{variant:10s} {report['size_bytes'] / 1e6:7.2f} {report['latency_ms']:9.2f} "
            f"{report['top1_agreement']:12.3f} {report['max_abs_diff_probabilities']:9.1e} "
            f"{report['max_abs_diff_logits']:12.1e}"
        )
    table = markdown_table(
        ["path", "images/s", "× predict"],
        [[name, f"{rate:.1f}", f"{rate / predict:.2f}"] for name, rate in rows],
    )
    if tflite_rows:
        table += "\n\n" + markdown_table(
            ["TFLite", "MB", "ms/image (batch 1)", "top-1 agreement with Keras"],
            [
                [
                    r["variant"],
                    f"{r['size_bytes'] / 1e6:.2f}",
                    f"{r['latency_ms']:.2f}",
                    f"{r['top1_agreement']:.3f}",
                ]
                for r in tflite_rows
            ],
        )
    trained = ""
    if run_config:
        keys = ("source", "epochs", "limit")
        trained = "; trained with " + ", ".join(
            f"{key}={run_config[key]}" for key in keys if key in run_config
        )
        if run_metrics and "top1_accuracy" in run_metrics:
            trained += f", test top-1 {run_metrics['top1_accuracy']:.3f}"
    elif args.weights is None:
        trained = "; random weights (TFLite agreement is mostly ties)"
    table += f"\n\n{setting}{trained}; agreement on {len(held_out)} held-out images."
    write_results(
        "serving",
        table,
        {
            "settings": settings_of(args),
            "run_config": run_config,
            "run_metrics": run_metrics,
            "throughput": {name: rate for name, rate in rows},
            "throughput_vs_predict": {name: rate / predict for name, rate in rows},
            "tflite": tflite_rows,
        },
        results_dir=args.results_dir,
        title="Serving speed: SavedModel, REST and TFLite",
    )


if __name__ == "__main__":
    main()
