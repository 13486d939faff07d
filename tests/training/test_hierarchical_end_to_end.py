"""`hierarchical` from `fgkeras.train` to evaluation and export; hierarchy metrics for any model."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import fgkeras
from fgkeras.cli.main import main
from fgkeras.data.label_tree import LabelTree
from fgkeras.serving.samples import encode, synthetic_images

TINY = {"backbone": "tiny", "weights": None, "image_size": 32, "verbose": 0, "augment": "none"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "hierarchical"
    return fgkeras.train(
        "hierarchical", "synthetic", str(run_dir), epochs=1, batch_size=16, limit=32,
        model_options={"units": 16, "label_embedding_dim": 8}, **TINY,
    )  # fmt: skip


def test_train_takes_the_tree_from_the_source_and_logs_each_level(run):
    assert run.model.label_tree.levels == ["family", "genus", "species"]
    for key in ("loss", "family_loss", "genus_loss", "species_loss", "accuracy"):
        assert np.isfinite(run.history[key][0]), key
    hierarchy = json.loads(open(os.path.join(run.run_dir, "metrics.json")).read())["hierarchy"]
    assert set(hierarchy["head_level_accuracy"]) == {"family", "genus", "species"}
    assert hierarchy["level_accuracy"]["species"] == run.metrics["top1_accuracy"]


def test_evaluate_run_reports_levels_and_mistake_severity(run, capsys):
    metrics = fgkeras.evaluate_run(run.run_dir)["hierarchy"]
    levels = metrics["level_accuracy"]
    assert levels["family"] >= levels["genus"] >= levels["species"]  # coarser is easier
    if metrics["num_mistakes"]:
        assert 1.0 <= metrics["mistake_severity"] <= 3.0
        assert sum(metrics["mistake_distances"].values()) == metrics["num_mistakes"]
    assert 0.0 <= metrics["head_path_consistency"] <= 1.0
    assert main(["evaluate", run.run_dir]) == 0
    out = capsys.readouterr().out
    assert "per level        family" in out and "level heads" in out and "mistake severity" in out


def test_evaluate_any_model_on_a_source_with_a_hierarchy():
    model = fgkeras.build("baseline", num_classes=8, backbone="tiny", weights=None,
                          input_shape=(32, 32, 3))  # fmt: skip
    data = fgkeras.data.load("synthetic", "test", image_size=32, batch_size=16, num_examples=32)
    metrics = fgkeras.evaluate(model, data)
    hierarchy = metrics["hierarchy"]
    assert hierarchy["levels"] == ["family", "genus", "species"]
    assert hierarchy["level_accuracy"]["species"] == metrics["top1_accuracy"]
    assert "head_level_accuracy" not in hierarchy  # a flat model has no level heads
    tree = LabelTree.from_source_info(data.source_info, data.class_names)
    labels = np.concatenate([y.numpy() for _, y in data])
    predicted = np.argmax(model.predict(data, verbose=0), axis=1)
    distances = tree.distance(labels, predicted)
    if (distances > 0).any():
        assert hierarchy["mistake_severity"] == pytest.approx(distances[distances > 0].mean())
    flat = fgkeras.data.load("synthetic", "test", image_size=32, batch_size=16, num_examples=32)
    flat.source_info = {}
    assert "hierarchy" not in fgkeras.evaluate(model, flat)  # no tree, no hierarchy metrics


def test_export_adds_top_k_names_per_level_and_converts_to_tflite(run, tmp_path):
    path = fgkeras.export(run.model, str(tmp_path / "h"), class_names=run.class_names,
                          tflite=("float32",), top_k=3)  # fmt: skip
    loaded = tf.saved_model.load(path)
    images = tf.constant(encode(synthetic_images(2, size=(40, 40)), "png"))
    out = loaded.signatures["serving_default"](image=images)
    tree = run.model.label_tree
    for level, size in zip(tree.levels, tree.level_sizes):
        assert out[f"top_k_names_{level}"].shape == (2, min(3, size))
        assert out[f"top_k_scores_{level}"].shape == (2, min(3, size))
    np.testing.assert_array_equal(out["top_k_names_species"], out["top_k_names"])
    family = out["top_k_names_family"].numpy().astype(str)
    assert set(family.ravel()) <= set(tree.names[0])
    card = json.loads(open(os.path.join(path, "assets", "model_card.json")).read())
    assert card["export"]["levels"] == ["family", "genus", "species"]
    report = json.loads(open(os.path.join(path, "assets.extra", "fgkeras_export.json")).read())
    assert report["tflite"]["float32"]["top1_agreement"] == 1.0


def test_a_source_without_a_hierarchy_is_refused_with_the_fix(tmp_path):
    for name, color in (("ant", (200, 0, 0)), ("bee", (0, 0, 200))):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (16, 16), color).save(tmp_path / "data" / name / f"{i}.png")
    with pytest.raises(ValueError, match="no class hierarchy.*label_tree"):
        fgkeras.train("hierarchical", str(tmp_path / "data"), str(tmp_path / "run"),
                      val_split=None, **TINY)  # fmt: skip
