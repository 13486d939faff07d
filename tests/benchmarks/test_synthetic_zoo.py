"""benchmarks/synthetic_zoo.py: its model list, its figures, its table and its results file."""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "synthetic_zoo.json"


@pytest.fixture
def bench(import_benchmark):
    return import_benchmark("synthetic_zoo")


def test_every_registered_27_class_classifier_is_in_one_of_the_tables(bench):
    import fgkeras

    listed = set(bench.MODELS) | {m for models in bench.ELSEWHERE.values() for m in models}
    # Trained on 21 of the 27 classes by benchmarks/multimodal.py (zero-shot split).
    not_comparable = {"zero_shot_attributes", "image_text"}
    registered = set(fgkeras.list_models())
    assert registered - not_comparable <= listed
    assert "baseline" in bench.MODELS
    for name in bench.MODELS:
        card = fgkeras.model_card(name)
        assert card["features"] == ["image"] and "classify" in card["capabilities"]
    for name, options in bench.OPTIONS.items():
        fgkeras.build(name, num_classes=3, backbone="tiny", weights=None,
                      input_shape=(32, 32, 3), **options)  # fmt: skip


def test_the_budget_is_the_recurrent_and_multimodal_benchmarks_budget(bench, import_benchmark):
    recurrent = import_benchmark("recurrent_models")
    spec = recurrent.SETTINGS["synthetic"]
    assert (bench.IMAGE_SIZE, bench.EPOCHS) == (spec["image_size"], spec["epochs"])
    assert (bench.BATCH_SIZE, bench.LEARNING_RATE) == (
        recurrent.BATCH_SIZE,
        recurrent.LEARNING_RATE,
    )
    assert spec["source_options"] == {"preset": "benchmark"}


def test_most_confused_sums_over_seeds_and_reports_a_share_of_the_true_class(bench):
    names = ["a", "b", "c"]
    one = {"confusion_matrix": [[8, 2, 0], [0, 10, 0], [0, 1, 9]], "class_names": names}
    two = {"confusion_matrix": [[9, 0, 1], [0, 7, 3], [0, 0, 10]], "class_names": names}
    # b → c: 3 of b's 20 images; a → b: 2 of 20; c → b: 1 of 20.
    assert bench.most_confused([one, two]) == "b → c (0.15)"
    assert bench.most_confused([one]) == "a → b (0.20)"


def test_merged_keeps_one_row_per_model_and_seed_first_seen_wins(bench):
    mine = [{"model": "bcnn", "seed": 0, "top1": 0.5}]
    theirs = [{"model": "bcnn", "seed": 0, "top1": 0.9}, {"model": "cbp", "seed": 1, "top1": 0.7}]
    rows = bench.merged(mine, theirs)
    assert [(r["model"], r["seed"], r["top1"]) for r in rows] == [
        ("bcnn", 0, 0.5),
        ("cbp", 1, 0.7),
    ]


def _row(model, seed, top1):
    return {
        "model": model,
        "seed": seed,
        "top1": top1,
        "mean_per_class": top1 - 0.01,
        "level_accuracy": {"family": 0.99, "genus": 0.95, "species": top1},
        "mistake_severity": 1.5,
        "train_seconds": 120.0,
        "confusion_matrix": [[9, 1], [0, 10]],
        "class_names": ["x", "y"],
    }


def test_zoo_table_lists_models_in_order_with_mean_and_spread(bench):
    rows = [_row("cbp", 0, 0.80), _row("baseline", 0, 0.90), _row("baseline", 1, 0.94)]
    table = bench.zoo_table(rows, {"baseline": 1.0, "cbp": 2.5})
    lines = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert lines[1].startswith("| baseline | 2 | 0.920 ± 0.020 | 0.910 ± 0.020 |")
    assert lines[1].endswith("| 2.0 ± 0.0 | 1.00 |")
    assert lines[2].startswith("| cbp * | 1 | 0.800 ± 0.000 |") and "x → y (0.10)" in lines[2]
    assert "`cbp` output_dim=2048" in table


def test_recorded_results_cover_every_model_with_three_seeds(bench):
    data = json.loads(RESULTS.read_text())["data"]
    assert data["budget"]["source_options"] == {"preset": "benchmark"}
    assert not data["budget"]["quick"]
    seeds = {}
    for row in data["rows"]:
        seeds.setdefault(row["model"], set()).add(row["seed"])
        assert 1 / 27 < row["top1"] <= 1.0
    assert set(seeds) == set(bench.MODELS)
    assert all(len(s) >= 3 for s in seeds.values()), seeds
    assert set(data["step_costs"]) == set(bench.MODELS)
    assert data["step_costs"]["baseline"] == 1.0


def test_recorded_table_is_the_one_the_script_makes_from_its_rows(bench):
    data = json.loads(RESULTS.read_text())["data"]
    markdown = RESULTS.with_suffix(".md").read_text()
    table = bench.results_table(data["rows"], data["step_costs"], str(RESULTS.parent))
    assert table in markdown


def test_relative_step_costs_interleaves_the_models_and_divides_by_the_reference(import_benchmark):
    training_runs = import_benchmark("training_runs")
    calls = []

    class Stub:
        def __init__(self, name):
            self.name = name

        def train_on_batch(self, images, labels):
            calls.append(self.name)

    costs = training_runs.relative_step_costs(
        {"baseline": Stub("baseline"), "bcnn": Stub("bcnn")}, None, None, repeats=3
    )
    assert set(costs) == {"baseline", "bcnn"} and costs["baseline"] == 1.0
    assert costs["bcnn"] > 0
    # One warm-up step each, then rounds that alternate the models.
    assert calls == ["baseline", "bcnn"] * 4


def test_readme_synthetic_column_is_the_recorded_benchmark(bench, readme_model_column):
    data = json.loads(RESULTS.read_text())["data"]
    measured = bench.readme_cells(data["rows"], str(RESULTS.parent))
    shown = readme_model_column("synthetic preset")
    assert set(bench.MODELS) <= set(measured)
    for model, cell in shown.items():
        if model in measured:
            assert measured[model] in cell, (model, cell, measured[model])
        else:  # no stale or invented number for a model without three recorded seeds
            assert not re.search(r"\d\.\d{3}", cell), (model, cell)
