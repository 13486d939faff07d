"""zero_shot_attributes: ALE training from the source's class attributes, unseen classes."""

import json

import keras
import numpy as np
import pytest

import fgkeras
from fgkeras.cli.main import main
from fgkeras.data import synthetic
from fgkeras.evaluation.zero_shot import harmonic_mean
from fgkeras.models.zero_shot import with_class_attributes
from tests.image_folders import write_class_folder

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}
TABLE = synthetic.class_info(8).attributes.astype("float32")


def test_the_same_table_gives_the_same_logits_and_other_tables_other_classes():
    model = fgkeras.build("zero_shot_attributes", num_classes=6, class_attributes=TABLE[:6], **TINY)
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    same = with_class_attributes(model, TABLE[:6])
    np.testing.assert_allclose(same(images), model(images), rtol=1e-5, atol=1e-5)
    everything = with_class_attributes(model, TABLE)
    # Seen classes keep their scores among more classes; unseen ones get their own.
    np.testing.assert_allclose(everything(images)[:, :6], model(images), rtol=1e-5, atol=1e-5)
    assert everything.output_shape == (None, 8)


def test_models_that_cannot_place_new_classes_say_why():
    with pytest.raises(ValueError, match="needs a zero_shot_attributes model"):
        with_class_attributes(fgkeras.build("baseline", num_classes=3, **TINY), TABLE)
    learned = fgkeras.build("zero_shot_attributes", num_classes=3, **TINY)
    with pytest.raises(ValueError, match="learned its class vectors"):
        with_class_attributes(learned, TABLE)
    model = fgkeras.build("zero_shot_attributes", num_classes=8, class_attributes=TABLE, **TINY)
    with pytest.raises(ValueError, match=r"must be \[K, 6\]"):
        with_class_attributes(model, np.ones((4, 5)))


def test_train_takes_the_class_table_from_the_source_then_scores_unseen_classes(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "zero_shot_attributes", "--source", "synthetic", "--backbone", "tiny",
                 "--weights", "none", "--image-size", "32", "--epochs", "1", "--batch-size", "16",
                 "--limit", "48", "--classes", "0", "1", "2", "3", "4", "5",
                 "--source-options", '{"num_examples": 96}', "--run-dir", str(run),
                 "--verbose", "0"])  # fmt: skip
    assert code == 0
    trained = keras.models.load_model(run / "model.keras")
    np.testing.assert_array_equal(trained.get_layer("predictions").class_attributes, TABLE[:6])
    result = fgkeras.evaluate_zero_shot(trained, "synthetic", unseen=[6, 7], seen=list(range(6)),
                                        num_examples=96)  # fmt: skip
    assert result["chance"] == 0.5 and result["unseen_classes"] == 2
    assert result["num_images"] == 24  # 96 test images, 12 per class
    g = result["generalized"]
    assert g["num_images"] == 96
    assert g["harmonic_mean"] == pytest.approx(harmonic_mean(g["seen_top1"], g["unseen_top1"]))

    capsys.readouterr()
    assert main(["zeroshot", str(run), "--unseen", "6", "7"]) == 0  # seen: the run's classes
    text = capsys.readouterr().out
    assert "24 images of 2 unseen classes" in text and "chance 50.0%" in text
    assert "generalized      seen" in text and "6 + 2 classes" in text
    assert main(["zeroshot", str(run), "--unseen", "6", "7", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["unseen_class_names"] == [synthetic.class_info(8).class_names[i] for i in (6, 7)]
    assert record["unseen_top1"] == pytest.approx(result["unseen_top1"])


def test_a_source_without_class_attributes_is_named(tmp_path):
    write_class_folder(tmp_path / "data")
    with pytest.raises(ValueError, match="has none \\(no class_attributes"):
        fgkeras.train("zero_shot_attributes", str(tmp_path / "data"), val_split=None,
                      run_dir=str(tmp_path / "r"), backbone="tiny", weights=None, image_size=32,
                      epochs=1, verbose=0)  # fmt: skip
