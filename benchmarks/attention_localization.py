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

Each line is a *variant*: a registered model with its options (`VARIANTS`;
``soft_attention (plain gradient)`` is `soft_attention` with
``feature_gradient="attention"``, textbook back-propagation). Every variant
runs with seeds 0, 1, 2 (data and weights); the table shows mean ± half the
range. Rows are kept in the results JSON and reused while the settings are
unchanged, so the benchmark resumes and can be run in parts (``--models``,
``--seeds``).

Usage (with the defaults, ``baseline`` trains in about 2 minutes on 2 CPU
cores; multi-pass models cost 2-3x that)::

    python benchmarks/attention_localization.py [--epochs 4] [--train 2000]
        [--difficulty 0.3] [--models baseline soft_attention ...] [--seeds 0 1 2]
        [--results-dir DIR]

Writes benchmarks/results/attention_localization.md and .json (``--results-dir``
elsewhere, e.g. for smoke runs).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from results_io import add_results_dir_argument, markdown_table, write_results  # noqa: E402
from training_runs import done_keys, load_rows, mean_spread  # noqa: E402

import fgkeras  # noqa: E402
from fgkeras.data import synthetic  # noqa: E402
from fgkeras.inference.explanations import (  # noqa: E402
    attention_maps,
    chance_in_boxes,
    grad_cam,
    map_peaks,
    peak_in_boxes,
    points_in_boxes,
)

# Small-budget settings; everything else is each model's default.
OPTIONS = {
    "ws_dan": {"num_attention_maps": 8},
    "ra_cnn": {"num_scales": 2, "apn_units": 64},
    "ma_cnn": {"num_parts": 4},
    "soft_attention": {"hidden_units": 64},
    "hard_attention": {"hidden_units": 64},
}
# Variant label -> (registered model, options).
VARIANTS = {
    "baseline": ("baseline", {}),
    "soft_attention": ("soft_attention", OPTIONS["soft_attention"]),
    "soft_attention (plain gradient)": (
        "soft_attention",
        {**OPTIONS["soft_attention"], "feature_gradient": "attention"},
    ),
    "soft_attention (3 heads)": ("soft_attention", {**OPTIONS["soft_attention"], "num_heads": 3}),
    **{
        name: (name, OPTIONS.get(name, {}))
        for name in ("hard_attention", "two_stage", "ws_dan", "ra_cnn", "ma_cnn")
    },
}
COLUMNS = ("acc", "own map in part", "own map on object", "Grad-CAM in part")


def own_peaks(model, name, images):
    """Normalized (y, x) peak of the model's own map per image (None without one)."""
    if name == "baseline":
        return None
    if name == "ra_cnn":  # the boxcar mask is flat inside: score the zoom centre
        box = keras.Model(model.input, model.get_layer("apn1_box").output)
        return np.asarray(box.predict(images, batch_size=64, verbose=0))[:, :2]
    maps = [
        attention_maps(model, images[start : start + 64], ["attention_maps"])["attention_maps"]
        for start in range(0, len(images), 64)
    ]
    return map_peaks(np.concatenate(maps))


def grad_cam_in(model, images, boxes):
    cams = [grad_cam(model, images[s : s + 64]) for s in range(0, len(images), 64)]
    return peak_in_boxes(np.concatenate(cams), boxes)


@functools.lru_cache(maxsize=2)
def synthetic_split(split, size, image_size, difficulty, seed):
    """One split of the synthetic birds, made once per seed for all variants."""
    return synthetic.generate(
        size, image_size=image_size, difficulty=difficulty, seed=seed, split=split
    )


def run(variant, seed, args):
    """Train one variant with one seed; return its row."""
    name, options = VARIANTS[variant]
    data = {
        split: synthetic_split(split, size, args.image_size, args.difficulty, seed)
        for split, size in (("train", args.train), ("test", args.test))
    }
    train, test = data["train"], data["test"]
    x_train, x_test = train.images.astype("float32"), test.images.astype("float32")
    keras.utils.set_random_seed(seed)
    model = fgkeras.build(
        name,
        num_classes=len(train.info.class_names),
        backbone="tiny",
        weights=None,
        input_shape=(args.image_size, args.image_size, 3),
        **options,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.time()
    model.fit(x_train, train.labels, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
    seconds = time.time() - start
    accuracy = model.evaluate(x_test, test.labels, batch_size=64, verbose=0)[1]
    peaks = own_peaks(model, name, x_test)
    own_part = None if peaks is None else points_in_boxes(peaks, test.part_bbox)
    own_object = None if peaks is None else points_in_boxes(peaks, test.bbox[:, None, :])
    row = {
        "model": variant,
        "variant": [name, options],
        "seed": seed,
        "acc": float(accuracy),
        "own map in part": None if own_part is None else float(own_part.mean()),
        "own map on object": None if own_object is None else float(own_object.mean()),
        "Grad-CAM in part": float(grad_cam_in(model, x_test, test.part_bbox).mean()),
        "train s": round(seconds, 1),
        "chance_part": chance_in_boxes(test.part_bbox),
        "chance_object": chance_in_boxes(test.bbox[:, None, :]),
    }
    print(json.dumps(row), flush=True)
    return row


def markdown(rows):
    """One line per variant, in `VARIANTS` order: mean ± half the range over seeds.

    >>> rows = [{"model": "baseline", "seed": s, "acc": 0.9, "own map in part": None,
    ...          "own map on object": None, "Grad-CAM in part": g, "train s": 60.0,
    ...          "chance_part": 0.08, "chance_object": 0.25} for s, g in enumerate((0.5, 0.7))]
    >>> print(markdown(rows))  # doctest: +NORMALIZE_WHITESPACE
    | model | seeds | acc | own map in part | own map on object | Grad-CAM in part | train s |
    |---|---|---|---|---|---|---|
    | baseline | 2 | 0.900 ± 0.000 | – | – | 0.600 ± 0.100 | 60 |
    <BLANKLINE>
    Chance (a random peak): in a part box 0.080, on the object 0.250.
    """
    body = []
    for variant in VARIANTS:
        runs = [r for r in rows if r["model"] == variant]
        if not runs:
            continue
        cells = [
            "–" if runs[0][column] is None else mean_spread([r[column] for r in runs])
            for column in COLUMNS
        ]
        seconds = f"{np.mean([r['train s'] for r in runs]):.0f}"
        body.append([variant, len(runs), *cells, seconds])
    table = markdown_table(["model", "seeds", *COLUMNS, "train s"], body)
    chance_part = np.mean([r["chance_part"] for r in rows])
    chance_object = np.mean([r["chance_object"] for r in rows])
    return (
        f"{table}\n\nChance (a random peak): in a part box {chance_part:.3f}, "
        f"on the object {chance_object:.3f}."
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--difficulty", type=float, default=0.3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--fresh", action="store_true", help="ignore earlier results")
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)
    settings = {
        "epochs": args.epochs,
        "train": args.train,
        "test": args.test,
        "image_size": args.image_size,
        "difficulty": args.difficulty,
        "batch_size": args.batch_size,
    }
    json_path = os.path.join(args.results_dir, "attention_localization.json")
    # A row is reused only while its variant still means the same model and options.
    rows = [
        row
        for row in load_rows(json_path, settings, args.fresh)
        if row["model"] in VARIANTS and row.get("variant") == list(VARIANTS[row["model"]])
    ]
    done = done_keys(rows, ("model", "seed"))
    setting = (
        f"Synthetic birds, {args.image_size}×{args.image_size}, difficulty {args.difficulty}, "
        f"{args.train} training / {args.test} test images, tiny backbone from scratch, "
        f"Adam 1e-3, batch {args.batch_size}, {args.epochs} epochs for every model; "
        "mean ± half the range over seeds."
    )

    def save():
        write_results(
            "attention_localization",
            f"{markdown(rows)}\n\n{setting}",
            {"budget": settings, "rows": rows},
            results_dir=args.results_dir,
            title="Where attention looks: peak-in-part-box on synthetic birds",
        )

    for variant in args.models:
        for seed in args.seeds:
            if (variant, seed) not in done:
                rows.append(run(variant, seed, args))
                save()
    if rows:
        save()  # also when every row was there: the file names this command
        print(markdown(rows))


if __name__ == "__main__":
    main()
