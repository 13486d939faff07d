"""Multimodal models on the synthetic benchmark preset: attributes, zero-shot, image-text.

Every model is trained by `fgkeras.train` at the same budget as the other
benchmarks on the shared preset (``preset="benchmark"``: 27 classes, tiny
backbone from random initialisation, 48 px, 4 epochs, batch 32, AdamW 1e-3
with cosine decay, light augmentation), three seeds each:

- **attributes help classify?** `attribute_multitask` (class head + the
  9 part-colour attributes, balanced BCE) next to `baseline`: test top-1,
  and the attribute head's mAP and accuracy;
- **zero-shot**: `zero_shot_attributes` (ALE) and `image_text` (dual
  encoder) trained on 21 classes, tested on the test images of the 6 classes
  they never saw (held out: every 4th class from the 2nd on; every colour of
  every part still appears among the seen classes): per-class top-1 among
  the 6 (chance 1/6) and the generalized setting's harmonic mean H;
- **side information at inference**: `attribute_guided` given each test
  image's crown-colour attributes (the family, a third of what decides the
  species; the synthetic attributes determine the class, so the full vector
  would give the answer away), fused by FiLM and by late concatenation: test
  top-1 with that vector and with it unknown (NaN), next to `baseline`;
- **retrieval**: `image_text`'s image → text and text → image Recall@1 and
  Recall@5 on the test images of its 21 training classes (relevance: same
  class).

    .venv/bin/python benchmarks/multimodal.py                          # ~25 min on 2 cores
    .venv/bin/python benchmarks/multimodal.py --quick --results-dir /tmp/mm   # smoke

Writes benchmarks/results/multimodal.md and .json; re-running skips the
(model, seed) runs already in the JSON when the budget is unchanged.
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from results_io import add_results_dir_argument, markdown_table, write_results  # noqa: E402
from training_runs import (  # noqa: E402
    add_run_arguments,
    done_keys,
    load_rows,
    mean_spread,
    row_metrics,
)

import fgkeras  # noqa: E402

RESULTS = "multimodal"
# Row name -> (registered model, builder options): attribute_guided twice, one per fusion.
FAMILY_HINT = {"side_attributes": "has_crown_color::*"}  # crown colour = the family
VARIANTS = {
    "attribute_guided": ("attribute_guided", {**FAMILY_HINT, "fusion": "film"}),
    "attribute_guided_late": ("attribute_guided", {**FAMILY_HINT, "fusion": "late"}),
}
MODELS = ("baseline", "attribute_multitask", "zero_shot_attributes", "image_text", *VARIANTS)
UNSEEN = list(range(1, 27, 4))[:6]  # 1, 5, 9, 13, 17, 21
SEEN = [c for c in range(27) if c not in UNSEEN]
ZERO_SHOT = ("zero_shot_attributes", "image_text")
SOURCE_OPTIONS = {"preset": "benchmark"}
BUDGET = {"image_size": 48, "epochs": 4, "batch_size": 32, "learning_rate": 1e-3,
          "unseen": UNSEEN}  # fmt: skip


def train_one(model, seed, args, runs_dir) -> dict:
    quick = args.quick
    registered, options = VARIANTS.get(model, (model, None))
    result = fgkeras.train(
        registered,
        "synthetic",
        run_dir=os.path.join(runs_dir, f"{model}-{seed}"),
        backbone="tiny",
        weights=None,
        image_size=BUDGET["image_size"],
        source_options=SOURCE_OPTIONS,
        classes=SEEN if model in ZERO_SHOT else None,
        val_split="test",
        batch_size=BUDGET["batch_size"],
        epochs=1 if quick else BUDGET["epochs"],
        learning_rate=BUDGET["learning_rate"],
        warmup_epochs=0.5,
        limit=256 if quick else None,
        augment="light",
        model_options=options,
        seed=seed,
        verbose=0,
    )
    row = {"model": model, "seed": seed, **row_metrics(result)}
    metrics = result.metrics
    if "attributes" in metrics:
        row["attribute_map"] = metrics["attributes"]["mean_average_precision"]
        row["attribute_accuracy"] = metrics["attributes"]["mean_accuracy"]
    if "side_input" in metrics:
        row["top1_without_side"] = metrics["side_input"]["without"]["top1_accuracy"]
    if "image_text" in metrics:
        for direction, found in metrics["image_text"].items():
            row[f"{direction}_recall_at_1"] = found["recall_at_1"]
            row[f"{direction}_recall_at_5"] = found["recall_at_5"]
    if model in ZERO_SHOT:
        zero_shot = fgkeras.evaluate_zero_shot(
            result.model, "synthetic", unseen=UNSEEN, seen=SEEN, **SOURCE_OPTIONS
        )
        row["unseen_top1"] = zero_shot["unseen_top1"]
        row["chance"] = zero_shot["chance"]
        row["gzsl_seen"] = zero_shot["generalized"]["seen_top1"]
        row["gzsl_unseen"] = zero_shot["generalized"]["unseen_top1"]
        row["gzsl_h"] = zero_shot["generalized"]["harmonic_mean"]
    return row


def results_table(rows) -> str:
    def runs(model):
        return [r for r in rows if r["model"] == model]

    classify = []
    for model in ("baseline", "attribute_multitask"):
        if runs(model):
            found = runs(model)
            classify.append([
                model, len(found), mean_spread([r["top1"] for r in found]),
                mean_spread([r.get("attribute_map") for r in found]),
                mean_spread([r.get("attribute_accuracy") for r in found]),
                mean_spread([r["train_seconds"] / 60 for r in found], 1),
            ])  # fmt: skip
    guided = []
    for model in ("baseline", *VARIANTS):
        if runs(model) and any(runs(name) for name in VARIANTS):
            found = runs(model)
            guided.append([
                model, len(found), VARIANTS[model][1]["fusion"] if model in VARIANTS else "—",
                mean_spread([r["top1"] for r in found]) if model in VARIANTS else "—",
                mean_spread([r.get("top1_without_side", r["top1"]) for r in found]),
                mean_spread([r["train_seconds"] / 60 for r in found], 1),
            ])  # fmt: skip
    zero = []
    for model in ZERO_SHOT:
        if runs(model):
            found = runs(model)
            zero.append([
                model, len(found), mean_spread([r["top1"] for r in found]),
                mean_spread([r["unseen_top1"] for r in found]), f"{found[0]['chance']:.3f}",
                mean_spread([r["gzsl_seen"] for r in found]),
                mean_spread([r["gzsl_unseen"] for r in found]),
                mean_spread([r["gzsl_h"] for r in found]),
            ])  # fmt: skip
    parts = []
    if classify:
        parts.append(
            "**Do attributes help classify? (27 classes, all seen)**\n\n"
            + markdown_table(
                ["model", "seeds", "top-1", "attribute mAP", "attribute accuracy", "train min"],
                classify,
            )  # fmt: skip
        )
    if guided:
        parts.append(
            "**Side information at inference: the family (crown colour) known, 27 classes**\n\n"
            + markdown_table(
                [
                    "model",
                    "seeds",
                    "fusion",
                    "top-1 with the family",
                    "top-1 without (unknown)",
                    "train min",
                ],
                guided,
            )  # fmt: skip
        )
    if zero:
        parts.append(
            f"**Zero-shot: 21 seen classes, {len(UNSEEN)} never seen (classes {UNSEEN})**\n\n"
            + markdown_table(
                [
                    "model",
                    "seeds",
                    "top-1 (21 seen)",
                    "unseen top-1",
                    "chance",
                    "GZSL seen",
                    "GZSL unseen",
                    "GZSL H",
                ],
                zero,
            )  # fmt: skip
        )
    text = runs("image_text")
    if text:
        retrieval = [[
            direction.replace("_to_", " → "),
            mean_spread([r[f"{direction}_recall_at_1"] for r in text]),
            mean_spread([r[f"{direction}_recall_at_5"] for r in text]),
        ] for direction in ("image_to_text", "text_to_image")]  # fmt: skip
        parts.append(
            "**image_text retrieval (test images of its 21 classes and their descriptions)**"
            "\n\n" + markdown_table(["direction", "Recall@1", "Recall@5"], retrieval)
        )
    return "\n\n".join(parts) + (
        "\n\nMean ± half the range over seeds. Unseen top-1: mean per-class accuracy among the "
        "unseen classes only; GZSL: every test image against all 27 classes, per-class "
        "accuracy on the seen and on the unseen classes' images, and their harmonic mean H."
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, MODELS)
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = [0]
    budget = {**BUDGET, "quick": args.quick}
    json_path = os.path.join(args.results_dir, f"{RESULTS}.json")
    rows = load_rows(json_path, budget, args.fresh)
    done = done_keys(rows, ("model", "seed"))
    title = "Multimodal models on the synthetic benchmark preset"
    with tempfile.TemporaryDirectory() as runs_dir:
        for seed in args.seeds:
            for model in args.models:
                if (model, seed) in done:
                    continue
                rows.append(train_one(model, seed, args, runs_dir))
                print(f"{model:<22}seed {seed}  top-1 {rows[-1]['top1']:.3f}", flush=True)
                write_results(RESULTS, results_table(rows), {"budget": budget, "rows": rows},
                              results_dir=args.results_dir, title=title)  # fmt: skip
    print(results_table(rows))


if __name__ == "__main__":
    main()
