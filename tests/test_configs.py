"""The paper recipes in configs/: valid, honest about their numbers, and runnable.

Each recipe is a `fgkeras train --config` file. Here every one must hold only
`TrainConfig` options of the right types, name a registered model, backbone and
source, follow the ``<dataset>_<model>_<backbone>.yaml`` naming, and state in its
header the paper accuracy that its model card's ``paper_results`` and the
README's recipe table hold.

Then each runs through the command line itself, ``fgkeras train --config FILE``,
with only what must change to run offline on a CPU in seconds given as flags:
synthetic 32 px images (2 classes, 2 images), ``weights=None``, the "tiny"
backbone (with the recipes' VGG16, ResNet-50 and Inception v3 one such run took
15 s, 90 s and 200 s on a CI-sized CPU), and one epoch per training phase. The
model, its options and every optimiser, schedule and phase option stay the
recipe's, and RUN_DIR/config.json must show them. Recipes that differ only in
what the flags replace (one set-up on another dataset) make the same run: it is
trained once and checked against each of them.
"""

import csv
import dataclasses
import json
import math
import re
from pathlib import Path

import pytest

import fgkeras
from fgkeras.cli.main import main
from fgkeras.data.sources import list_sources
from fgkeras.models.backbones import list_backbones
from fgkeras.training.config import TrainConfig
from fgkeras.training.run_dir import load_config_file

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RECIPES = sorted(CONFIGS.glob("*.yaml"))
# File-name prefix -> the dataset name used by model cards' paper_results.
DATASETS = {"cub200": "CUB-200-2011", "cars": "Stanford Cars", "aircraft": "FGVC-Aircraft"}
ACCURACY_LINE = re.compile(r"^# Paper accuracy: (?P<dataset>.+) top-1 (?P<percent>[0-9.]+)%$", re.M)
# What the offline run replaces; everything else must reach config.json as written.
OFFLINE = {
    "source": "synthetic",
    "source_options": {"num_classes": 2, "num_examples": 2},
    "split": "train",
    "val_split": None,
    "image_size": 32,
    "resize_size": None,
    "batch_size": 2,
    "limit": 2,
    "weights": None,
    "backbone": "tiny",
    "verbose": 0,
}
PHASE_OPTIONS = ("epochs", "freeze_epochs", "run_dir")
_RUNS = {}  # offline config -> its run directory, shared by recipes that make the same run


def recipe(path: Path) -> dict:
    return load_config_file(str(path), allowed=set(TrainConfig.field_names()))


def stated_accuracy(path: Path) -> tuple[str, float]:
    match = ACCURACY_LINE.search(path.read_text())
    assert match, f"{path.name}: no '# Paper accuracy: <dataset> top-1 <percent>%' line"
    return match["dataset"], float(match["percent"]) / 100


def test_recipes_cover_the_published_set_ups():
    names = {path.stem for path in RECIPES}
    assert {f"{prefix}_bcnn_vgg16" for prefix in DATASETS} <= names
    assert {"cub200_cbp_vgg16", "cub200_isqrt_cov_resnet50", "cub200_ws_dan_inceptionv3"} <= names
    assert {"cub200_ra_cnn_vgg19", "cub200_ma_cnn_vgg19"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.stem)
def test_recipe_is_valid_and_states_its_cards_accuracy(path):
    values = recipe(path)  # unknown options raise here, as `fgkeras train --config` does
    config = TrainConfig.resolve(str(path))  # and every value passes validation
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for key, value in values.items():
        default = defaults[key]
        if isinstance(default, float):  # YAML reads "1e-5" as a string: write 1.0e-5
            assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        elif default is not None and value is not None:
            assert isinstance(value, type(default)), (key, value)
    assert config.model in fgkeras.list_models()
    assert config.backbone in list_backbones()
    assert config.source in list_sources()
    assert config.weights == "imagenet"
    assert config.run_dir == f"runs/{path.stem}"
    card = fgkeras.model_card(config.model)
    assert config.image_size == card["data_config"]["input_size"][0] == 448
    prefix = path.stem.split("_", 1)[0]
    assert path.stem == f"{prefix}_{config.model}_{config.backbone.replace('_', '')}"
    dataset, accuracy = stated_accuracy(path)
    assert dataset == DATASETS[prefix]
    assert card["paper_results"][dataset] == pytest.approx(accuracy, abs=5e-4)
    text = path.read_text()
    assert re.search(r"^# Paper: .+", text, re.M) and "https://" in text
    readme = (CONFIGS.parent / "README.md").read_text()
    row = re.search(rf"^\| `{path.name}` \|.*\| (?P<percent>[0-9.]+)% \|$", readme, re.M)
    assert row and float(row["percent"]) / 100 == pytest.approx(accuracy), "README table"


def offline_run(path: Path, tmp_path_factory) -> tuple[Path, dict]:
    """Train ``path`` offline through the CLI (once per distinct run); its run directory."""
    values = recipe(path)
    two_phases = values.get("freeze_epochs", 0) > 0
    phases = {"epochs": 2 if two_phases else 1, "freeze_epochs": 1 if two_phases else 0}
    key = json.dumps({**values, **OFFLINE, **phases, "run_dir": None}, sort_keys=True)
    if key not in _RUNS:
        run_dir = tmp_path_factory.mktemp(path.stem)
        flags = {**OFFLINE, **phases, "run_dir": str(run_dir)}
        argv = ["train", "--config", str(path)]
        for name, value in flags.items():
            text = json.dumps(value) if isinstance(value, dict) else value
            argv += ["--" + name.replace("_", "-"), "none" if value is None else str(text)]
        assert main(argv) == 0
        _RUNS[key] = run_dir
    return _RUNS[key], phases


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.stem)
def test_recipe_trains_one_step_with_its_own_options(path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FGKERAS_DEBUG", "1")  # a failing run shows its traceback
    run_dir, phases = offline_run(path, tmp_path_factory)
    with open(run_dir / "history.csv") as file:
        history = list(csv.DictReader(file))
    assert len(history) == phases["epochs"]  # one row per phase: both phases ran
    assert all(math.isfinite(float(row["loss"])) for row in history)
    recorded = json.loads((run_dir / "config.json").read_text())
    for key, value in recipe(path).items():
        if key in OFFLINE or key in PHASE_OPTIONS:
            continue
        assert recorded[key] == (pytest.approx(value) if isinstance(value, float) else value), key
    assert recorded["freeze_epochs"] == phases["freeze_epochs"]
    assert {key: recorded[key] for key in OFFLINE if key != "verbose"} == {
        key: value for key, value in OFFLINE.items() if key != "verbose"
    }
