"""Do metric losses give embeddings that generalise to classes never seen in training?

For each data setting, the same model (`baseline` on the tiny backbone with a
64-d learned embedding) is trained with each loss at equal budget (same
epochs, batch size and learning rate; P x K batches for the losses with a
metric term), then embeds the *test images of classes it never saw*:

- Fashion-MNIST: train on the six non-tops classes (Trouser, Dress, Sandal,
  Sneaker, Bag, Ankle boot), evaluate on T-shirt/top, Pullover, Coat and Shirt
  (the fine-grained tops, 4,000 test images);
- synthetic: 16 classes, train on the first 12, evaluate on the last 4.

The same network with random weights ("untrained") is the reference every
loss must beat. Reported per loss, mean ± spread (half the max-min range)
over the seeds:
Recall@1 and MAP@R of the held-out test set searched leave-one-out, and
4-way 1-shot / 5-shot prototype accuracy (600 episodes each). Also the
cross-entropy model's accuracy on its own (seen) classes, to show the
losses were trained to a comparable point.

    .venv/bin/python benchmarks/metric_learning.py                 # full table
    .venv/bin/python benchmarks/metric_learning.py --quick --results-dir /tmp/ml  # smoke

Writes benchmarks/results/metric_learning.md and .json; re-running skips the
(setting, loss, seed) runs already in the JSON (``--fresh`` to start over).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from results_io import (  # noqa: E402
    add_results_dir_argument,
    markdown_table,
    settings_of,
    write_results,
)

import fgkeras  # noqa: E402
from fgkeras.evaluation.few_shot import few_shot_episodes  # noqa: E402
from fgkeras.evaluation.retrieval import embed_dataset, retrieval_metrics  # noqa: E402

LOSSES = ("cross_entropy", "triplet", "contrastive", "cross_entropy+triplet")
# The reference every loss must beat: the same network, randomly initialised.
UNTRAINED = "untrained"
TOPS = ["T-shirt/top", "Pullover", "Coat", "Shirt"]
NON_TOPS = ["Trouser", "Dress", "Sandal", "Sneaker", "Bag", "Ankle boot"]
SETTINGS = {
    "fashion_mnist": {
        "label": "Fashion-MNIST: train 6 non-tops classes, test the 4 tops",
        "source": "fashion_mnist",
        "source_options": None,
        "seen": NON_TOPS,
        "unseen": TOPS,
        "image_size": 28,
    },
    "synthetic": {
        "label": "synthetic (16 classes): train 12, test the other 4",
        "source": "synthetic",
        "source_options": {"num_classes": 16, "num_examples": 4800},
        "seen": list(range(12)),
        "unseen": list(range(12, 16)),
        "image_size": 32,
    },
}
RESULTS = "metric_learning"
# Runs are only resumed when these match: they set the budget of every run.
BUDGET = ("epochs", "batch_size", "images_per_class", "learning_rate", "embedding_dim", "limit")


def train_one(setting, loss, seed, args, runs_dir):
    """Train one (setting, loss, seed); return its measurements."""
    spec = SETTINGS[setting]
    start = time.time()
    if loss == UNTRAINED:
        return measure(setting, loss, seed, untrained_model(spec, seed, args), {}, 0.0)
    result = fgkeras.train(
        "baseline",
        spec["source"],
        run_dir=os.path.join(runs_dir, f"{setting}-{loss.replace('+', '_')}-{seed}"),
        backbone="tiny",
        weights=None,
        image_size=spec["image_size"],
        source_options=spec["source_options"],
        classes=spec["seen"],
        batch_size=args.batch_size,
        images_per_class=args.images_per_class,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        limit=args.limit,
        loss=loss,
        embedding_dim=args.embedding_dim,
        augment="light",
        seed=seed,
        verbose=0,
    )
    return measure(setting, loss, seed, result.model, result.metrics, time.time() - start)


def untrained_model(spec, seed, args):
    """The benchmark's network with random weights (what training must improve on)."""
    import keras

    keras.utils.set_random_seed(seed)
    size = spec["image_size"]
    return fgkeras.build(
        "baseline",
        num_classes=len(spec["seen"]),
        backbone="tiny",
        weights=None,
        input_shape=(size, size, 3),
        embedding_dim=args.embedding_dim,
    )


def measure(setting, loss, seed, model, train_metrics, train_seconds):
    """Retrieval and few-shot accuracy of ``model`` on the setting's unseen classes."""
    spec = SETTINGS[setting]
    held_out = fgkeras.data.load(
        spec["source"],
        "test",
        image_size=spec["image_size"],
        batch_size=256,
        classes=spec["unseen"],
        shuffle=False,
        **(spec["source_options"] or {}),
    )
    embeddings, labels = embed_dataset(model, held_out)
    found = retrieval_metrics(embeddings, labels, ks=(1, 2, 4, 8))
    row = {
        "setting": setting,
        "loss": loss,
        "seed": seed,
        "recall_at_1": found["recall_at_1"],
        "map_at_r": found["map_at_r"],
        "train_minutes": train_seconds / 60,
        "seen_val_recall_at_1": train_metrics.get("retrieval", {}).get("recall_at_1"),
    }
    if "top1_accuracy" in train_metrics:
        row["seen_top1_accuracy"] = train_metrics["top1_accuracy"]
    for shots in (1, 5):
        episodes = few_shot_episodes(
            embeddings, labels, ways=4, shots=shots, queries=15, episodes=600, seed=seed
        )
        row[f"4way_{shots}shot"] = episodes["accuracy"]
    return row


def mean_spread(values) -> str:
    values = np.asarray(values, np.float64)
    return f"{values.mean():.3f} ± {(values.max() - values.min()) / 2:.3f}"


def seen_accuracy(runs) -> str:
    """Top-1 on the validation images of the training classes, for runs with a
    classifier loss; "—" for the others (metric-only and untrained runs)."""
    values = [r["seen_top1_accuracy"] for r in runs if r.get("seen_top1_accuracy") is not None]
    return mean_spread(values) if values else "—"


def results_table(rows, losses) -> str:
    lines = []
    for setting, spec in SETTINGS.items():
        chosen = [r for r in rows if r["setting"] == setting]
        if not chosen:
            continue
        body = []
        for loss in losses:
            runs = [r for r in chosen if r["loss"] == loss]
            if not runs:
                continue
            body.append(
                [
                    loss,
                    len(runs),
                    mean_spread([r["recall_at_1"] for r in runs]),
                    mean_spread([r["map_at_r"] for r in runs]),
                    mean_spread([r["4way_1shot"] for r in runs]),
                    mean_spread([r["4way_5shot"] for r in runs]),
                    seen_accuracy(runs),
                    mean_spread([r["train_minutes"] for r in runs]),
                ]
            )
        header = [
            "loss",
            "seeds",
            "Recall@1 (unseen)",
            "MAP@R (unseen)",
            "4-way 1-shot",
            "4-way 5-shot",
            "top-1 seen classes",
            "train min",
        ]
        lines.append(f"**{spec['label']}**\n\n{markdown_table(header, body)}")
    return "\n\n".join(lines) + (
        "\n\nMean ± half the range over seeds; unseen = test images of classes left out of "
        "training, searched leave-one-out; few-shot: 600 prototype episodes, 15 queries per "
        "class; top-1 seen classes: the run's own validation split (the classes it trained "
        "on), shown for runs with a cross-entropy term."
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    choices = [*LOSSES, UNTRAINED]
    parser.add_argument("--losses", nargs="+", default=choices, choices=choices)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--images-per-class", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--limit", type=int, default=12000, help="training images per run")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--fresh", action="store_true", help="ignore earlier results")
    add_results_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.settings, args.seeds, args.epochs, args.limit = ["synthetic"], [0], 1, 384
        args.losses = ["cross_entropy", "triplet"]

    results_dir = args.results_dir
    json_path = os.path.join(results_dir, f"{RESULTS}.json")
    rows = []
    if os.path.exists(json_path) and not args.fresh:
        with open(json_path) as file:
            earlier = json.load(file)["data"]
        if all(earlier["settings"].get(k) == getattr(args, k) for k in BUDGET):
            rows = earlier["rows"]
    done = {(r["setting"], r["loss"], r["seed"]) for r in rows}
    with tempfile.TemporaryDirectory() as runs_dir:
        for setting in args.settings:
            for loss in args.losses:
                for seed in args.seeds:
                    if (setting, loss, seed) in done:
                        continue
                    row = train_one(setting, loss, seed, args, runs_dir)
                    rows.append(row)
                    print(
                        f"{setting:<14}{loss:<24}seed {seed}  R@1 {row['recall_at_1']:.3f}  "
                        f"MAP@R {row['map_at_r']:.3f}  1-shot {row['4way_1shot']:.3f}  "
                        f"5-shot {row['4way_5shot']:.3f}  {row['train_minutes']:.1f} min",
                        flush=True,
                    )
                    table = results_table(rows, choices)
                    write_results(
                        RESULTS,
                        table,
                        {"settings": settings_of(args), "rows": rows},
                        results_dir=results_dir,
                        title="Metric learning: embeddings of classes never seen in training",
                    )
    if rows:
        write_results(
            RESULTS,
            results_table(rows, choices),
            {"settings": settings_of(args), "rows": rows},
            results_dir=results_dir,
            title="Metric learning: embeddings of classes never seen in training",
            note="Rows accumulate over invocations with the same budget; the command is the last.",
        )
    print("\n" + results_table(rows, choices))


if __name__ == "__main__":
    main()
