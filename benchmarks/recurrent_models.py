"""Recurrent models next to `baseline`: accuracy, cost, where they look, how wrong they are.

For each data setting, every model is trained by `fgkeras.train` at the same
budget (tiny backbone from random initialisation, same epochs, batch size,
optimizer, schedule and augmentation; each model's default options) and
tested on the setting's test split, three seeds each:

- ``synthetic``: the shared benchmark preset (``preset="benchmark"``: 27
  classes in a complete family → genus → species tree), 48 px, 4 epochs;
- ``fashion_mnist``: the ten classes under their group → label tree (upper
  body, full body, lower body, footwear, bags), 28 px, 3 epochs on the first
  8,000 training images, tested on all 10,000 test images.

Reported per model (mean ± half the range over seeds): test top-1; the
accuracy of the prediction mapped to the top level of the tree and the mean
tree distance of the mistakes (`fgkeras.evaluation.hierarchy`; for
`hierarchical` also its own coarse head); training wall time (evaluation after
training not counted) and the train-step cost relative to `baseline`: the
median of 7 interleaved timed steps per model (batch 32, the setting's
size), so that a slower minute on a shared machine hits every model alike.
On ``synthetic`` also where the recurrent models look, against chance: the
share of test images whose per-step attention peak (`lstm_attention`) or
glimpse centre (`recurrent_glimpse`) lies inside one of the three
class-deciding part boxes, next to Grad-CAM on `baseline`.

    .venv/bin/python benchmarks/recurrent_models.py                     # ~60 min on 2 cores
    .venv/bin/python benchmarks/recurrent_models.py --settings synthetic --models baseline tree_lstm
    .venv/bin/python benchmarks/recurrent_models.py --quick --results-dir /tmp/rec   # smoke

Writes benchmarks/results/recurrent_models.md and .json; re-running skips the
(setting, model, seed) runs already in the JSON when the budget is unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from results_io import add_results_dir_argument, markdown_table, write_results  # noqa: E402
from training_runs import (  # noqa: E402
    add_run_arguments,
    done_keys,
    load_rows,
    mean_spread,
    relative_step_costs,
    row_metrics,
)

import fgkeras  # noqa: E402
from fgkeras.data import synthetic  # noqa: E402
from fgkeras.inference.explanations import (  # noqa: E402
    attention_maps,
    chance_in_boxes,
    grad_cam,
    peak_in_boxes,
)

RESULTS = "recurrent_models"
MODELS = ("baseline", "lstm_attention", "recurrent_glimpse", "tree_lstm", "hierarchical")
SETTINGS = {
    "synthetic": {
        "label": "synthetic benchmark preset (27 classes, family → genus → species), 48 px",
        "source": "synthetic",
        "source_options": {"preset": "benchmark"},
        "image_size": 48,
        "epochs": 4,
        "limit": None,
        "coarse": "family",
    },
    "fashion_mnist": {
        "label": "Fashion-MNIST (10 classes, group → label), 28 px, 8,000 training images",
        "source": "fashion_mnist",
        "source_options": None,
        "image_size": 28,
        "epochs": 3,
        "limit": 8000,
        "coarse": "group",
    },
}
BATCH_SIZE, LEARNING_RATE = 32, 1e-3
LOCALIZATION_IMAGES = 500


def budget_of(args) -> dict:
    return {
        "settings": {k: SETTINGS[k] for k in sorted(SETTINGS)},
        "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "quick": args.quick,
    }


def train_one(setting, model, seed, args, runs_dir) -> dict:
    spec = SETTINGS[setting]
    result = fgkeras.train(
        model,
        spec["source"],
        run_dir=os.path.join(runs_dir, f"{setting}-{model}-{seed}"),
        backbone="tiny",
        weights=None,
        image_size=spec["image_size"],
        source_options=spec["source_options"],
        val_split="test",
        batch_size=BATCH_SIZE,
        epochs=1 if args.quick else spec["epochs"],
        learning_rate=LEARNING_RATE,
        warmup_epochs=0.5,
        limit=256 if args.quick else spec["limit"],
        augment="light",
        seed=seed,
        verbose=0,
    )
    row = {"setting": setting, "model": model, "seed": seed, **row_metrics(result)}
    if setting == "synthetic":
        row.update(where_it_looks(result.model, model, spec["image_size"], args))
    return row


def localization_set(image_size, count):
    """Test images of the preset at the training size, with their part boxes."""
    data = synthetic.generate(
        count, split="test", seed=0, image_size=64, **synthetic.BENCHMARK_PRESET
    )
    images = keras.ops.convert_to_numpy(
        keras.ops.image.resize(data.images.astype("float32"), (image_size, image_size))
    )
    return images, data.part_bbox


def where_it_looks(model, name, image_size, args) -> dict:
    """Per-step share of images whose peak / glimpse centre is in a part box."""
    images, parts = localization_set(image_size, 64 if args.quick else LOCALIZATION_IMAGES)
    batches = [images[i : i + 64] for i in range(0, len(images), 64)]
    if name == "baseline":
        cams = np.concatenate([grad_cam(model, b) for b in batches])
        return {
            "in_part": [float(peak_in_boxes(cams, parts).mean())],
            "chance": chance_in_boxes(parts, 8),
        }
    if name == "lstm_attention":
        names = [layer.name for layer in model.layers if layer.name.startswith("attention_maps_")]
        maps = [attention_maps(model, b, names) for b in batches]
        shares = [
            float(peak_in_boxes(np.concatenate([m[n] for m in maps]), parts).mean()) for n in names
        ]
        grid = maps[0][names[0]].shape[1]
        return {"in_part": shares, "chance": chance_in_boxes(parts, grid)}
    if name == "recurrent_glimpse":
        boxes_model = keras.Model(model.input, model.get_layer("glimpse_boxes").output)
        boxes = np.asarray(boxes_model.predict(images, batch_size=64, verbose=0))
        cy, cx = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
        p = parts[:, None]  # [N, 1, parts, 4] against [N, steps]
        inside = (
            (p[..., 0] <= cy[..., None])
            & (cy[..., None] <= p[..., 2])
            & (p[..., 1] <= cx[..., None])
            & (cx[..., None] <= p[..., 3])
        ).any(axis=-1)
        return {"in_part": inside.mean(axis=0).tolist(), "chance": chance_in_boxes(parts, 64)}
    return {}


def step_costs(setting, repeats=7) -> dict:
    """Median train-step seconds of each model over ``repeats`` interleaved rounds,
    relative to `baseline`'s (the same batch for all)."""
    spec = SETTINGS[setting]
    size = spec["image_size"]
    num_classes = 27 if setting == "synthetic" else 10
    data = fgkeras.data.load(spec["source"], "train", image_size=size, batch_size=BATCH_SIZE,
                             **(spec["source_options"] or {}))  # fmt: skip
    images, labels = next(iter(data))
    steps = {}
    for name in MODELS:
        model = fgkeras.build(name, num_classes=num_classes, backbone="tiny", weights=None,
                              input_shape=(size, size, 3), **_tree_option(name, data))  # fmt: skip
        model.compile(keras.optimizers.AdamW(LEARNING_RATE),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        steps[name] = model
    return relative_step_costs(steps, images, labels, repeats)


def _tree_option(name, data):
    if name != "hierarchical":
        return {}
    from fgkeras.data.label_tree import LabelTree

    return {"label_tree": LabelTree.from_source_info(data.source_info, data.class_names)}


def accuracy_table(rows, setting, costs) -> str:
    coarse = SETTINGS[setting]["coarse"]
    body = []
    for model in MODELS:
        runs = [r for r in rows if r["setting"] == setting and r["model"] == model]
        if not runs:
            continue
        heads = [r["head_level_accuracy"][coarse] for r in runs if "head_level_accuracy" in r]
        body.append(
            [
                model,
                len(runs),
                mean_spread([r["top1"] for r in runs]),
                mean_spread([r["level_accuracy"][coarse] for r in runs]),
                mean_spread(heads) if heads else "—",
                mean_spread([r["mistake_severity"] for r in runs], 2),
                mean_spread([r["train_seconds"] / 60 for r in runs], 1),
                f"{costs[model]:.2f}" if model in costs else "—",
            ]
        )
    header = ["model", "seeds", "top-1", f"{coarse} top-1", f"own {coarse} head",
              "mistake severity", "train min", "step × baseline"]  # fmt: skip
    return f"**{SETTINGS[setting]['label']}**\n\n" + markdown_table(header, body)


def looking_table(rows) -> str:
    body = []
    for model, what in (
        ("baseline", "Grad-CAM peak (post hoc)"),
        ("lstm_attention", "attention peak"),
        ("recurrent_glimpse", "glimpse centre"),
    ):
        runs = [r for r in rows if r["setting"] == "synthetic" and r["model"] == model]
        if not runs or "in_part" not in runs[0]:
            continue
        steps = len(runs[0]["in_part"])
        cells = [mean_spread([r["in_part"][t] for r in runs]) for t in range(steps)]
        cells += ["—"] * (3 - steps)
        body.append([model, what, *cells[:3], f"{np.mean([r['chance'] for r in runs]):.3f}"])
    header = ["model", "scored", "step 1", "step 2", "step 3", "chance"]
    return (
        "**Where they look (synthetic preset, 500 test images): share of images whose peak "
        "or glimpse centre is inside a class-deciding part box**\n\n" + markdown_table(header, body)
    )


def results_table(rows, costs) -> str:
    parts = [
        accuracy_table(rows, s, costs.get(s, {}))
        for s in SETTINGS
        if any(r["setting"] == s for r in rows)
    ]
    if any(r["setting"] == "synthetic" for r in rows):
        parts.append(looking_table(rows))
    return "\n\n".join(parts) + (
        "\n\nMean ± half the range over seeds. Coarse top-1: the class prediction mapped up "
        "the tree (any model); own head: `hierarchical`'s first decoding step. Mistake "
        "severity: mean tree distance of the wrong answers (1 = a sibling class, 3 on "
        "synthetic / 2 on Fashion-MNIST = another top-level group). Step ×: median of 7 "
        "interleaved train steps (batch 32) over `baseline`'s, measured once per setting."
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    add_run_arguments(parser, MODELS)
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = [0]
    budget = budget_of(args)
    json_path = os.path.join(args.results_dir, f"{RESULTS}.json")
    rows = load_rows(json_path, budget, args.fresh)
    costs = _earlier_costs(json_path) if rows else {}
    done = done_keys(rows, ("setting", "model", "seed"))
    title = "Recurrent models next to baseline"
    with tempfile.TemporaryDirectory() as runs_dir:
        for seed in args.seeds:
            for setting in args.settings:
                for model in args.models:
                    if (setting, model, seed) in done:
                        continue
                    row = train_one(setting, model, seed, args, runs_dir)
                    rows.append(row)
                    print(f"{setting:<14}{model:<18}seed {seed}  top-1 {row['top1']:.3f}  "
                          f"{row['train_seconds'] / 60:.1f} min", flush=True)  # fmt: skip
                    save(rows, costs, budget, args, title)
    for setting in args.settings:
        if set(costs.get(setting, {})) != set(MODELS):
            costs[setting] = step_costs(setting, 2 if args.quick else 7)
            save(rows, costs, budget, args, title)
    print(results_table(rows, costs))


def save(rows, costs, budget, args, title):
    data = {"budget": budget, "rows": rows, "step_costs": costs}
    write_results(RESULTS, results_table(rows, costs), data, results_dir=args.results_dir,
                  title=title)  # fmt: skip


def _earlier_costs(json_path) -> dict:
    with open(json_path) as file:
        return json.load(file)["data"].get("step_costs", {})


if __name__ == "__main__":
    main()
