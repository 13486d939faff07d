"""Do attention maps land on the class-deciding part? And do they help accuracy?

On the built-in synthetic dataset (classes share one bird-like object and
differ only in the colours of three small parts: crown, wing bar, tail tip;
decoy colour marks clutter the background), every test image carries the
boxes of its three parts. For each model, trained with the same budget
(epochs, batch size, optimizer, data), this reports:

- ``acc``: test accuracy (inference as exported: WS-DAN crop-and-refines);
- ``own map in part``: fraction of test images whose own attention peak
  ("attention_maps", averaged over maps) lies inside one of the three part
  boxes (RA-CNN: the centre of its first zoom box);
- ``own map on object``: the same for the object box;
- ``Grad-CAM in part``: the same for Grad-CAM on "feature_map" (the only
  map a plain ``baseline`` has);
- ``chance in part``: fraction of map cells whose centre lies in a part box,
  i.e. what a random peak would score.

Usage (with the defaults, ``baseline`` trained in 3 minutes on 2 CPU cores
shared with three other TensorFlow jobs; multi-pass models cost 2-3x that)::

    python benchmarks/attention_localization.py [--epochs 3] [--train 2000]
        [--difficulty 0.2] [--models baseline soft_attention ...] [--results-dir DIR]

Writes benchmarks/results/attention_localization.md and .json (``--results-dir``
elsewhere, e.g. for smoke runs).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from results_io import add_results_dir_argument, settings_of, write_results  # noqa: E402

import fgkeras  # noqa: E402
from fgkeras.data import synthetic  # noqa: E402
from fgkeras.inference.explanations import (  # noqa: E402
    attention_maps,
    chance_in_boxes,
    grad_cam,
    peak_in_boxes,
)

MODELS = (
    "baseline",
    "soft_attention",
    "hard_attention",
    "two_stage",
    "ws_dan",
    "ra_cnn",
    "ma_cnn",
)
# Small-budget settings; everything else is each model's default.
OPTIONS = {
    "ws_dan": {"num_attention_maps": 8},
    "ra_cnn": {"num_scales": 2, "apn_units": 64},
    "ma_cnn": {"num_parts": 4},
    "soft_attention": {"hidden_units": 64},
    "hard_attention": {"hidden_units": 64},
}


def own_peaks_in(model, name, images, boxes):
    """Peak-in-box of the model's own map (None for models without one)."""
    if name == "baseline":
        return None
    if name == "ra_cnn":  # the boxcar mask is flat inside: score the zoom centre
        box = keras.Model(model.input, model.get_layer("apn1_box").output)
        params = np.asarray(box.predict(images, batch_size=64, verbose=0))
        inside = [
            np.any((b[:, 0] <= cy) & (cy <= b[:, 2]) & (b[:, 1] <= cx) & (cx <= b[:, 3]))
            for (cy, cx), b in zip(params[:, :2], boxes)
        ]
        return np.array(inside)
    maps = []
    for start in range(0, len(images), 64):
        maps.append(attention_maps(model, images[start : start + 64], ["attention_maps"]))
    stacked = np.concatenate([m["attention_maps"] for m in maps])
    return peak_in_boxes(stacked, boxes)


def grad_cam_in(model, images, boxes):
    cams = [grad_cam(model, images[s : s + 64]) for s in range(0, len(images), 64)]
    return peak_in_boxes(np.concatenate(cams), boxes)


def run(models, epochs, train_size, test_size, image_size, difficulty, batch_size, seed):
    train = synthetic.generate(
        train_size, image_size=image_size, difficulty=difficulty, seed=seed, split="train"
    )
    test = synthetic.generate(
        test_size, image_size=image_size, difficulty=difficulty, seed=seed, split="test"
    )
    x_train, y_train = train.images.astype("float32"), train.labels
    x_test, y_test = test.images.astype("float32"), test.labels
    num_classes = len(train.info.class_names)
    rows = []
    for name in models:
        keras.utils.set_random_seed(seed)
        model = fgkeras.build(
            name,
            num_classes=num_classes,
            backbone="tiny",
            weights=None,
            input_shape=(image_size, image_size, 3),
            **OPTIONS.get(name, {}),
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        start = time.time()
        model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0)
        seconds = time.time() - start
        accuracy = model.evaluate(x_test, y_test, batch_size=64, verbose=0)[1]
        own_part = own_peaks_in(model, name, x_test, test.part_bbox)
        own_object = own_peaks_in(model, name, x_test, test.bbox[:, None, :])
        row = {
            "model": name,
            "acc": round(float(accuracy), 3),
            "own map in part": None if own_part is None else round(float(own_part.mean()), 3),
            "own map on object": None if own_object is None else round(float(own_object.mean()), 3),
            "Grad-CAM in part": round(float(grad_cam_in(model, x_test, test.part_bbox).mean()), 3),
            "train s": round(seconds, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows, chance_in_boxes(test.part_bbox), chance_in_boxes(test.bbox[:, None, :])


def markdown(rows, chance_part, chance_object):
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join("–" if row[k] is None else str(row[k]) for k in keys) + " |")
    lines.append(
        f"\nChance (random peak): in a part box {chance_part:.3f}, "
        f"on the object {chance_object:.3f}."
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--difficulty", type=float, default=0.2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)
    rows, chance_part, chance_object = run(
        args.models,
        args.epochs,
        args.train,
        args.test,
        args.image_size,
        args.difficulty,
        args.batch_size,
        args.seed,
    )
    table = markdown(rows, chance_part, chance_object)
    print()
    print(table)
    setting = (
        f"Synthetic birds, {args.image_size}×{args.image_size}, difficulty {args.difficulty}, "
        f"{args.train} training / {args.test} test images, tiny backbone from scratch, "
        f"Adam 1e-3, batch {args.batch_size}, {args.epochs} epochs for every model, "
        f"seed {args.seed}."
    )
    write_results(
        "attention_localization",
        f"{table}\n\n{setting}",
        {
            "settings": settings_of(args),
            "model_options": OPTIONS,
            "rows": rows,
            "chance_part": chance_part,
            "chance_object": chance_object,
        },
        results_dir=args.results_dir,
        title="Where attention looks: peak-in-part-box on synthetic birds",
    )


if __name__ == "__main__":
    main()
