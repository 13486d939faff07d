"""`fgkeras predict MODEL IMAGE...`: table, JSON, exit codes and one-line errors."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from fgkeras.cli.main import main


@pytest.fixture
def model_and_images(tmp_path):
    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    keras.Model(inputs, keras.layers.Rescaling(0.01)(pooled)).save(run_dir / "model.keras")
    (run_dir / "class_names.json").write_text(json.dumps(["red", "green", "blue"]))
    folder = tmp_path / "images"
    folder.mkdir()
    for name, channel in (("red.png", 0), ("blue.jpg", 2)):
        image = np.zeros((12, 12, 3), np.uint8)
        image[..., channel] = 250
        encode = tf.io.encode_png if name.endswith("png") else tf.io.encode_jpeg
        tf.io.write_file(str(folder / name), encode(image))
    return run_dir, folder


def test_table(model_and_images, capsys):
    run_dir, folder = model_and_images
    assert main(["predict", str(run_dir), str(folder), "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["file", "rank", "label", "score"]
    assert lines[1].split()[:3] == [str(folder / "blue.jpg"), "1", "blue"]
    assert lines[2].split()[:2] == ["2", "red"] or lines[2].split()[:2] == ["2", "green"]
    assert lines[3].split()[:3] == [str(folder / "red.png"), "1", "red"]
    assert len(lines) == 5


def test_json_and_corrupt_file_exit_1(model_and_images, capsys):
    run_dir, folder = model_and_images
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    assert main(["predict", str(run_dir), str(folder), "--json", "--top-k", "1"]) == 1
    results = json.loads(capsys.readouterr().out)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in results}
    assert by_name["red.png"]["predictions"][0]["label"] == "red"
    assert by_name["broken.jpg"]["error"] and by_name["broken.jpg"]["predictions"] == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["/no/such/model", "IMAGES"], "Model not found: '/no/such/model'"),
        (["RUN", "/no/such/image.png"], "No such image file or folder"),
        (["RUN", "IMAGES", "--top-k", "0"], "`top_k` must be a positive integer"),
    ],
)
def test_user_errors_exit_2_with_one_line(model_and_images, capsys, argv, message):
    run_dir, folder = model_and_images
    argv = [{"RUN": str(run_dir), "IMAGES": str(folder)}.get(a, a) for a in argv]
    assert main(["predict", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fgkeras predict: error: ") and message in err
    assert err.count("\n") == 1
