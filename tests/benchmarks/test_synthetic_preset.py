"""The `synthetic` benchmark preset is the setting its benchmark chose, by the stated rule."""

import json
import pathlib

import pytest

from fgkeras.data import synthetic

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_preset_is_what_the_recorded_search_chose():
    record = json.loads((ROOT / "benchmarks/results/synthetic_preset.json").read_text())
    data = record["data"]
    assert data["chosen"] is not None
    assert synthetic.BENCHMARK_PRESET == {
        "num_classes": data["budget"]["num_classes"],
        "difficulty": data["chosen"],
    }
    # The rule: the first difficulty of the grid whose mean top-1 is below the threshold.
    means = {}
    for row in data["rows"]:
        means.setdefault(row["difficulty"], []).append(row["top1"])
    below = [d for d in sorted(means) if sum(means[d]) / len(means[d]) < data["threshold"]]
    assert below and below[0] == data["chosen"]
    assert all(len(means[d]) == 3 for d in means)


def test_choose_applies_the_rule(import_benchmark):
    bench = import_benchmark("synthetic_preset")
    rows = [{"difficulty": 0.5, "seed": s, "top1": t} for s, t in enumerate((0.95, 0.92, 0.85))] + [
        {"difficulty": 0.6, "seed": s, "top1": t} for s, t in enumerate((0.91, 0.88, 0.86))
    ]
    assert bench.choose(rows, [0, 1, 2]) == 0.6  # 0.5 averages 0.907
    assert bench.choose(rows[:3], [0, 1, 2]) is None
    assert bench.choose(rows[3:5], [0, 1, 2]) is None  # a seed missing: not decided yet


@pytest.mark.parametrize("preset, expected", [(None, (8, 0.5)), ("benchmark", (27, None))])
def test_resolve_preset(preset, expected):
    settings = synthetic.resolve_preset(preset)
    assert settings["num_classes"] == expected[0]
    difficulty = (
        expected[1] if expected[1] is not None else synthetic.BENCHMARK_PRESET["difficulty"]
    )
    assert settings["difficulty"] == difficulty
    assert synthetic.resolve_preset(preset, difficulty=0.2)["difficulty"] == 0.2


def test_unknown_preset_is_named():
    with pytest.raises(ValueError, match="Unknown synthetic preset.*'hard'"):
        synthetic.resolve_preset("hard")


def test_load_takes_the_preset_by_name():
    import fgkeras

    ds = fgkeras.data.load(
        "synthetic", "test", preset="benchmark", num_examples=54, image_size=32, batch_size=54
    )
    images, labels = next(iter(ds))
    assert len(ds.class_names) == 27 and images.shape == (54, 32, 32, 3)
    assert sorted(set(labels.numpy().tolist())) == list(range(27))
    assert ds.source_info["hierarchy_levels"] == ["family", "genus", "species"]
