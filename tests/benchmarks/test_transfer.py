"""benchmarks/transfer.py: its plan, its confusion figure, its table and its results file."""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(import_benchmark):
    return import_benchmark("transfer")


def test_pretraining_and_fine_tuning_classes_split_fashion_mnist(bench):
    from fgkeras.data.sources import FASHION_MNIST_CLASSES

    assert len(bench.PRETRAIN_CLASSES) == 6 and len(bench.TOPS) == 4
    assert set(bench.PRETRAIN_CLASSES).isdisjoint(bench.TOPS)
    assert sorted(bench.PRETRAIN_CLASSES + bench.TOPS) == sorted(FASHION_MNIST_CLASSES)
    assert set(bench.CONFUSED_PAIR) <= set(bench.TOPS)


def test_every_benchmarked_model_is_a_registered_single_image_classifier(bench):
    import fgkeras

    for name in bench.MODELS + list(bench.RECIPES):
        card = fgkeras.model_card(name)
        assert card["features"] == ["image"] and "classify" in card["capabilities"]


def test_plan_puts_each_random_init_line_after_its_pretrained_one(bench):
    plan = bench.run_plan([28, 56], ["baseline", "bcnn", "cbp"], ["bcnn", "baseline"], [0, 1])
    assert len(plan) == 2 * 5 * 2
    lines = [(m, init) for size, m, init, seed in plan if size == 28 and seed == 0]
    assert lines == [
        ("baseline", "pretrained"),
        ("baseline", "random"),
        ("bcnn", "pretrained"),
        ("bcnn", "random"),
        ("cbp", "pretrained"),
    ]
    assert [size for size, *_ in plan] == [28] * 10 + [56] * 10
    assert bench.run_plan([28], ["cbp"], ["baseline"], [0])[-1] == (28, "baseline", "random", 0)


def test_confusion_rate_counts_both_directions_over_both_classes(bench):
    names = ["T-shirt/top", "Pullover", "Coat", "Shirt"]
    confusion = [[80, 5, 0, 15], [0, 90, 10, 0], [0, 20, 80, 0], [25, 5, 10, 60]]
    # (15 + 25) of the 100 T-shirts and 100 Shirts.
    assert bench.confusion_rate(confusion, names) == pytest.approx(0.2)
    assert bench.confusion_rate(confusion, names, ("Pullover", "Coat")) == pytest.approx(0.15)


def test_results_table_averages_over_seeds(bench):
    def row(model, init, seed, top1, confusion, shirt):
        return {
            "size": 28,
            "model": model,
            "init": init,
            "seed": seed,
            "top1": top1,
            "tshirt_shirt_confusion": confusion,
            "per_class": {"Shirt": shirt},
            "wall_seconds": 120.0,
        }

    rows = [
        row("bcnn", "pretrained", 0, 0.90, 0.10, 0.70),
        row("bcnn", "pretrained", 1, 0.92, 0.08, 0.74),
        row("baseline", "random", 0, 0.80, 0.20, 0.50),
        row("baseline", "pretrained", 0, 0.88, 0.12, 0.66),
    ]
    table = bench.results_table(rows, {28: {"top1": 0.97, "train_seconds": 60.0}})
    lines = [line for line in table.splitlines() if line.startswith("| 28 px")]
    # Pretrained lines first, in MODELS order; then random-init lines.
    assert [line.split(" | ")[1:3] for line in lines] == [
        ["baseline", "pretrained"],
        ["bcnn", "pretrained"],
        ["baseline", "random"],
    ]
    assert "| 2 | 0.910 ± 0.010 | 0.090 ± 0.010 | 0.720 ± 0.020 | 2.0 ± 0.0 |" in lines[1]
    assert "six-class test top-1 0.970 in 1.0 min" in table


def test_recorded_results_cover_three_seeds_per_line():
    data = json.loads((ROOT / "benchmarks/results/transfer.json").read_text())["data"]
    lines = {}
    for row in data["rows"]:
        lines.setdefault((row["size"], row["model"], row["init"]), set()).add(row["seed"])
        assert 0.25 <= row["top1"] <= 1.0 and 0.0 <= row["tshirt_shirt_confusion"] <= 1.0
    assert lines and all(len(seeds) >= 3 for seeds in lines.values())
    assert data["budget"]["limit"] is None  # the full 24,000 / 4,000 images


def test_readme_transfer_column_is_the_recorded_benchmark(bench, readme_model_column):
    record = json.loads((ROOT / "benchmarks/results/transfer.json").read_text())
    measured = bench.readme_cells(record["data"]["rows"])
    shown = readme_model_column("transfer")
    assert measured, "no model has three seeds in benchmarks/results/transfer.json"
    for model, cell in shown.items():
        if model in measured:
            assert measured[model] in cell, (model, cell, measured[model])
        else:  # no stale or invented number for a model the benchmark has not measured
            assert not re.search(r"\d\.\d{3}", cell), (model, cell)


def test_changing_one_models_recipe_reruns_that_model_only(bench, monkeypatch):
    rows = [
        {"model": "baseline", "init": "pretrained", "recipe": {}},
        {"model": "bcnn", "init": "pretrained", "recipe": {"freeze_epochs": 1}},
        {"model": "bcnn", "init": "random", "recipe": {}},  # no frozen phase from random
        {"model": "cbp", "init": "pretrained", "recipe": {"freeze_epochs": 1}},  # stale
        {"model": "soft_attention", "init": "pretrained"},  # recipe not recorded
    ]
    kept = bench.current_rows(rows)
    assert [(r["model"], r["init"]) for r in kept] == [
        ("baseline", "pretrained"),
        ("bcnn", "pretrained"),
        ("bcnn", "random"),
    ]
    monkeypatch.setitem(bench.RECIPES, "bcnn", {"freeze_epochs": 2})
    assert [(r["model"], r["init"]) for r in bench.current_rows(rows)] == [
        ("baseline", "pretrained"),
        ("bcnn", "random"),
    ]


def test_table_states_the_model_options_that_depart_from_the_defaults(bench):
    assert bench.options_note(["baseline", "bcnn"]) == ""
    note = bench.options_note(["cbp", "isqrt_cov"])
    assert note == (
        "Model options other than the defaults: cbp output_dim=2048; isqrt_cov reduce_channels=128."
    )


def test_recorded_rows_keep_the_recipe_they_were_trained_with(bench):
    data = json.loads((ROOT / "benchmarks/results/transfer.json").read_text())["data"]
    assert "recipes" not in data["budget"]  # each row carries its own
    assert bench.current_rows(data["rows"]) == data["rows"]
