"""Every registered classifier on the synthetic benchmark preset, three seeds each.

The preset (``fgkeras.data.load("synthetic", preset="benchmark")``: 27 classes
in a complete family → genus → species tree, difficulty 0.6, chosen by the rule
in ``benchmarks/synthetic_preset.py``, where `baseline` stays below 0.90) is the
one setting every benchmark on the synthetic birds shares. This script trains
each single-image CNN classifier of the zoo on it at the budget the recurrent
and multimodal benchmarks used (tiny backbone from random initialisation,
48 px, 4 epochs, batch 32, AdamW 1e-3 with half an epoch of warm-up and cosine
decay, light augmentation, `fgkeras.train`'s own recipe for each model) and
tests on the preset's 1,000 test images, seeds 0, 1 and 2.

Two models get smaller options than their paper defaults, the same ones the
other benchmarks use (`OPTIONS`): `cbp` a 2,048-dimensional sketch (8,192 makes
its step 8 times baseline's on the CPU), `ra_cnn` two scales. The recurrent and
multimodal classifiers were measured at this budget by their own benchmarks;
their rows are read from ``recurrent_models.json`` and ``multimodal.json``
(only when the recorded budget is this one) and shown in a second table.
`zero_shot_attributes` and `image_text` are trained on 21 of the 27 classes
(see ``multimodal.md``) and are not comparable here.

    .venv/bin/python benchmarks/synthetic_zoo.py                          # ~90 min on 2 cores
    .venv/bin/python benchmarks/synthetic_zoo.py --models bcnn cbp        # in parts
    .venv/bin/python benchmarks/synthetic_zoo.py --quick --results-dir /tmp/zoo   # smoke

Writes benchmarks/results/synthetic_zoo.md and .json; re-running skips the
(model, seed) runs already recorded at the same budget. Two parts may run at
once: each save merges the rows the other part wrote meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from results_io import add_results_dir_argument, markdown_table, write_results  # noqa: E402
from training_runs import (  # noqa: E402
    add_run_arguments,
    done_keys,
    load_data,
    load_rows,
    mean_spread,
    relative_step_costs,
    row_metrics,
)

import fgkeras  # noqa: E402

RESULTS = "synthetic_zoo"
MODELS = (
    "baseline",
    "bcnn",
    "cbp",
    "isqrt_cov",
    "soft_attention",
    "hard_attention",
    "two_stage",
    "ws_dan",
    "ra_cnn",
    "ma_cnn",
)
OPTIONS = {
    "cbp": {"output_dim": 2048},
    "ra_cnn": {"num_scales": 2, "apn_units": 64},
}
IMAGE_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE = 48, 4, 32, 1e-3
# The rows other benchmarks measured at this budget: file, the models, and how
# to check that file's budget is this one.
ELSEWHERE = {
    "recurrent_models": ("lstm_attention", "recurrent_glimpse", "tree_lstm", "hierarchical"),
    "multimodal": ("attribute_multitask", "attribute_guided", "attribute_guided_late"),
}
VARIANT_NAMES = {"attribute_guided_late": "attribute_guided (late fusion)"}
FAMILY_GIVEN = {"attribute_guided", "attribute_guided_late"}  # read the family at inference


def budget_of(args) -> dict:
    return {
        "source_options": {"preset": "benchmark"},
        "image_size": IMAGE_SIZE,
        "epochs": EPOCHS,
        "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "warmup_epochs": 0.5,
        "augment": "light",
        "options": OPTIONS,
        "quick": args.quick,
    }


def train_one(model, seed, args, runs_dir) -> dict:
    result = fgkeras.train(
        model,
        "synthetic",
        run_dir=os.path.join(runs_dir, f"{model}-{seed}"),
        backbone="tiny",
        weights=None,
        image_size=IMAGE_SIZE,
        source_options={"preset": "benchmark"},
        model_options=OPTIONS.get(model),
        val_split="test",
        batch_size=BATCH_SIZE,
        epochs=1 if args.quick else EPOCHS,
        learning_rate=LEARNING_RATE,
        warmup_epochs=0.5,
        limit=256 if args.quick else None,
        augment="light",
        seed=seed,
        verbose=0,
    )
    metrics = result.metrics
    return {
        "model": model,
        "seed": seed,
        **row_metrics(result),
        "mean_per_class": metrics["mean_per_class_accuracy"],
        "confusion_matrix": np.asarray(metrics["confusion_matrix"]).tolist(),
        "class_names": list(metrics["class_names"]),
    }


def most_confused(runs) -> str:
    """The (true → predicted) pair with the most test images summed over seeds,
    as the share of the true class's images."""
    total = np.sum([np.asarray(r["confusion_matrix"]) for r in runs], axis=0)
    off = total.copy()
    np.fill_diagonal(off, 0)
    true, pred = np.unravel_index(np.argmax(off), off.shape)
    names = runs[0]["class_names"]
    return f"{names[true]} → {names[pred]} ({off[true, pred] / total[true].sum():.2f})"


def step_costs(models, repeats=7) -> dict:
    """Train-step seconds of each model over `baseline`'s (median of interleaved steps)."""
    import keras

    data = fgkeras.data.load("synthetic", "train", image_size=IMAGE_SIZE, batch_size=BATCH_SIZE,
                             preset="benchmark")  # fmt: skip
    images, labels = next(iter(data))
    built = {}
    for name in models:
        shape = (IMAGE_SIZE, IMAGE_SIZE, 3)
        model = fgkeras.build(name, num_classes=27, backbone="tiny", weights=None,
                              input_shape=shape, **OPTIONS.get(name, {}))  # fmt: skip
        model.compile(keras.optimizers.AdamW(LEARNING_RATE),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        built[name] = model
    return relative_step_costs(built, images, labels, repeats)


def zoo_table(rows, costs) -> str:
    body = []
    for model in MODELS:
        runs = [r for r in rows if r["model"] == model]
        if not runs:
            continue
        name = model + (" *" if model in OPTIONS else "")
        body.append(
            [
                name,
                len(runs),
                mean_spread([r["top1"] for r in runs]),
                mean_spread([r["mean_per_class"] for r in runs]),
                mean_spread([r["level_accuracy"]["family"] for r in runs]),
                mean_spread([r["level_accuracy"]["genus"] for r in runs]),
                mean_spread([r["mistake_severity"] for r in runs], 2),
                most_confused(runs),
                mean_spread([r["train_seconds"] / 60 for r in runs], 1),
                f"{costs[model]:.2f}" if model in costs else "—",
            ]
        )
    header = ["model", "seeds", "top-1", "mean per class", "family top-1", "genus top-1",
              "mistake severity", "most confused (share)", "train min",
              "step × baseline"]  # fmt: skip
    options = "; ".join(
        f"`{m}` {', '.join(f'{k}={v}' for k, v in o.items())}" for m, o in OPTIONS.items()
    )
    return (
        "**CNN classifiers, trained here**\n\n"
        + markdown_table(header, body)
        + f"\n\n\\* smaller than the paper's default: {options}."
    )


def _same_budget(name, budget) -> bool:
    """Whether the budget recorded by benchmark ``name`` is this one."""
    if name == "recurrent_models":
        budget = {**budget, **budget.get("settings", {}).get("synthetic", {})}
        if budget.get("source_options") != {"preset": "benchmark"}:
            return False
    return (
        (budget.get("image_size"), budget.get("epochs")) == (IMAGE_SIZE, EPOCHS)
        and (budget.get("batch_size"), budget.get("learning_rate")) == (BATCH_SIZE, LEARNING_RATE)
        and not budget.get("quick")
    )


def elsewhere_rows(results_dir) -> dict:
    """Rows of the models measured at this budget by the recurrent and multimodal
    benchmarks, keyed by model (none where a file is missing or its budget differs)."""
    found = {}
    for name, models in ELSEWHERE.items():
        path = os.path.join(results_dir, f"{name}.json")
        if not os.path.exists(path):
            continue
        with open(path) as file:
            data = json.load(file)["data"]
        if not _same_budget(name, data.get("budget", {})):
            continue
        for row in data["rows"]:
            if row["model"] in models and row.get("setting", "synthetic") == "synthetic":
                found.setdefault(row["model"], []).append(row)
    return found


def elsewhere_table(found) -> str:
    body = []
    for source, models in ELSEWHERE.items():
        for model in models:
            if model not in found:
                continue
            runs = found[model]
            body.append(
                [
                    VARIANT_NAMES.get(model, model),
                    len(runs),
                    mean_spread([r["top1"] for r in runs]),
                    mean_spread([r["level_accuracy"]["family"] for r in runs]),
                    mean_spread([r["mistake_severity"] for r in runs], 2),
                    "family given" if model in FAMILY_GIVEN else "—",
                    f"[{source}.md]({source}.md)",
                ]
            )
    if not body:
        return ""
    header = ["model", "seeds", "top-1", "family top-1", "mistake severity", "side input",
              "measured by"]  # fmt: skip
    return "**Recurrent and multimodal classifiers, same preset and budget**\n\n" + markdown_table(
        header, body
    )


def readme_cells(rows, results_dir) -> dict:
    """The README model table's synthetic-preset column: model -> "top-1 mean ±
    spread" for every model with three seeds or more, trained here or by the
    recurrent and multimodal benchmarks at this budget (`attribute_guided`,
    which reads the family at inference, left out).

    >>> rows = [{"model": "bcnn", "seed": s, "top1": t} for s, t in enumerate((0.8, 0.9, 0.85))]
    >>> readme_cells(rows, "/nonexistent")
    {'bcnn': '0.850 ± 0.050'}
    """
    runs = {}
    for row in rows:
        runs.setdefault(row["model"], []).append(row)
    for model, found in elsewhere_rows(results_dir).items():
        if model not in FAMILY_GIVEN:
            runs.setdefault(model, []).extend(found)
    return {
        model: mean_spread([r["top1"] for r in model_runs])
        for model, model_runs in runs.items()
        if len({r["seed"] for r in model_runs}) >= 3
    }


def results_table(rows, costs, results_dir) -> str:
    parts = [zoo_table(rows, costs), elsewhere_table(elsewhere_rows(results_dir))]
    return "\n\n".join(p for p in parts if p) + (
        "\n\nMean ± half the range over seeds; 1,000 test images. Family / genus top-1: the "
        "prediction mapped up the tree. Mistake severity: mean tree distance of the wrong "
        "answers (1 = a sibling species, 3 = another family). Most confused: the true → "
        "predicted pair with the most test images over all seeds, as a share of the true "
        "class's images. Step ×: median of 7 interleaved train steps (batch 32) over "
        "`baseline`'s, measured in one process after the runs."
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, MODELS)
    parser.add_argument("--no-step-costs", action="store_true",
                        help="skip the step timing (another part does it)")  # fmt: skip
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = [0]
    budget = budget_of(args)
    json_path = os.path.join(args.results_dir, f"{RESULTS}.json")
    earlier = load_data(json_path, budget, args.fresh)
    rows, costs = list(earlier.get("rows", [])), dict(earlier.get("step_costs", {}))
    with tempfile.TemporaryDirectory() as runs_dir:
        for model in args.models:  # model by model: a stopped run leaves whole lines
            for seed in args.seeds:
                if (model, seed) in done_keys(rows, ("model", "seed")):
                    continue
                row = train_one(model, seed, args, runs_dir)
                rows = merged(load_rows(json_path, budget) + [row], rows)
                print(f"{model:<16}seed {seed}  top-1 {row['top1']:.3f}  "
                      f"{row['train_seconds'] / 60:.1f} min", flush=True)  # fmt: skip
                save(rows, costs, budget, args)
    if not args.no_step_costs:
        rows = merged(load_rows(json_path, budget), rows)
        measured = sorted({r["model"] for r in rows}, key=MODELS.index)
        if set(costs) != set(measured) and "baseline" in measured:
            costs = step_costs(measured, 2 if args.quick else 7)
            save(rows, costs, budget, args)
    print(results_table(rows, costs, args.results_dir))


def merged(*row_lists) -> list:
    """One row per (model, seed): the rows of all lists, the first seen kept."""
    out, seen = [], set()
    for rows in row_lists:
        for row in rows:
            key = (row["model"], row["seed"])
            if key not in seen:
                seen.add(key)
                out.append(row)
    return out


def save(rows, costs, budget, args):
    data = {"budget": budget, "rows": rows, "step_costs": costs}
    write_results(RESULTS, results_table(rows, costs, args.results_dir), data,
                  results_dir=args.results_dir,
                  title="Every classifier on the synthetic benchmark preset")  # fmt: skip


if __name__ == "__main__":
    main()
