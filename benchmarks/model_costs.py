"""Parameters, FLOPs and train-step time of every registered model, per backbone.

Times are reported as a ratio to the `baseline` model on the same backbone,
measured in the same run (absolute times on shared CPUs are noisy).

    .venv/bin/python benchmarks/model_costs.py                      # tiny, vgg16, resnet50
    .venv/bin/python benchmarks/model_costs.py --backbones tiny --steps 2     # a minute

FLOPs are counted by TensorFlow's profiler on the inference graph for one
image (multiply-adds count as two FLOPs). Writes benchmarks/results/model_costs.md
and .json (``--results-dir`` elsewhere).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from results_io import (  # noqa: E402
    add_results_dir_argument,
    markdown_table,
    settings_of,
    write_results,
)

import fgkeras  # noqa: E402


def count_flops(model: keras.Model) -> int:
    """Forward FLOPs for one image, from the TF profiler on a frozen graph."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(
        graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options
    )
    return int(profile.total_float_ops)


def step_seconds(model: keras.Model, batch_size: int, steps: int) -> float:
    """Median seconds of one forward+backward+update step."""
    model.compile(
        keras.optimizers.SGD(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch_size, *model.input_shape[1:])).astype("float32")
    y = rng.integers(0, model.output_shape[-1], batch_size)
    model.train_on_batch(x, y)  # trace and warm up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=["tiny", "vgg16", "resnet50"])
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--tiny-image-size", type=int, default=64)
    parser.add_argument("--num-classes", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)

    models = args.models or fgkeras.list_models()
    models = ["baseline"] + [m for m in models if m != "baseline"]
    header = f"{'model':<16}{'backbone':<11}{'size':>5}{'params':>14}{'GFLOPs':>9}{'step x':>8}"
    print(header)
    print("-" * len(header))
    rows = []
    for backbone in args.backbones:
        size = args.tiny_image_size if backbone == "tiny" else args.image_size
        baseline_time = None
        for name in models:
            try:
                model = fgkeras.build(
                    name,
                    num_classes=args.num_classes,
                    backbone=backbone,
                    weights=None,
                    input_shape=(size, size, 3),
                )
            except (ValueError, TypeError) as error:
                print(f"{name:<16}{backbone:<11}{size:>5}  skipped: {error}")
                rows.append({"model": name, "backbone": backbone, "input": size,
                             "skipped": str(error)})  # fmt: skip
                continue
            try:
                flops = count_flops(model)
            except ValueError:  # graphs over 2 GB (e.g. B-CNN on 2048 channels) cannot freeze
                flops = None
            seconds = step_seconds(model, args.batch_size, args.steps)
            baseline_time = baseline_time or seconds
            row = {
                "model": name,
                "backbone": backbone,
                "input": size,
                "params": model.count_params(),
                "flops": flops,
                "step_seconds": seconds,
                "step_ratio": seconds / baseline_time,
            }
            rows.append(row)
            gflops = "n/a" if flops is None else f"{flops / 1e9:.2f}"
            print(
                f"{name:<16}{backbone:<11}{size:>5}{row['params']:>14,}"
                f"{gflops:>9}{row['step_ratio']:>8.2f}",
                flush=True,
            )
            keras.backend.clear_session()
    footnote = (
        f"{args.num_classes} classes, weights=None. GFLOPs: one forward pass of one image "
        f"(TF profiler). step ×: median train-step time (batch {args.batch_size}, "
        f"{args.steps} steps after a warm-up) relative to `baseline` on the same backbone, "
        "same run."
    )
    print(f"\n{footnote}")
    table = markdown_table(
        ["model", "backbone", "input", "params", "GFLOPs", "step ×"],
        [
            [r["model"], r["backbone"], r["input"], "skipped", None, None]
            if "skipped" in r
            else [
                r["model"],
                r["backbone"],
                r["input"],
                f"{r['params']:,}",
                "n/a" if r["flops"] is None else f"{r['flops'] / 1e9:.2f}",
                f"{r['step_ratio']:.2f}",
            ]
            for r in rows
        ],
    )
    write_results(
        "model_costs",
        f"{table}\n\n{footnote}",
        {"settings": settings_of(args), "rows": rows},
        results_dir=args.results_dir,
        title="Model costs: parameters, FLOPs and train-step time",
    )


if __name__ == "__main__":
    main()
