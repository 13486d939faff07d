"""Parameters, FLOPs and train-step time of every registered model, per backbone.

Times are reported as a ratio to the `baseline` model on the same backbone,
measured in the same run (absolute times on shared CPUs are noisy).

    .venv/bin/python benchmarks/model_costs.py                      # tiny, vgg16, resnet50
    .venv/bin/python benchmarks/model_costs.py --backbones tiny --image-size 64

FLOPs are counted by TensorFlow's profiler on the inference graph for one
image (multiply-adds count as two FLOPs).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=["tiny", "vgg16", "resnet50"])
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--tiny-image-size", type=int, default=64)
    parser.add_argument("--num-classes", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    models = args.models or fgkeras.list_models()
    models = ["baseline"] + [m for m in models if m != "baseline"]
    header = f"{'model':<16}{'backbone':<11}{'size':>5}{'params':>14}{'GFLOPs':>9}{'step x':>8}"
    print(header)
    print("-" * len(header))
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
                continue
            try:
                gflops = f"{count_flops(model) / 1e9:>9.2f}"
            except ValueError:  # graphs over 2 GB (e.g. B-CNN on 2048 channels) cannot freeze
                gflops = f"{'n/a':>9}"
            seconds = step_seconds(model, args.batch_size, args.steps)
            baseline_time = baseline_time or seconds
            print(
                f"{name:<16}{backbone:<11}{size:>5}{model.count_params():>14,}"
                f"{gflops}{seconds / baseline_time:>8.2f}"
            )
            keras.backend.clear_session()
    print(
        f"\nstep x: train-step time (batch {args.batch_size}) relative to `baseline` on the "
        "same backbone, same run."
    )


if __name__ == "__main__":
    main()
