"""The one image-loading path: same pixels as the evaluation pipeline; bombs refused."""

import os

import keras
import numpy as np
import pytest
from PIL import Image

import fgkeras.data as fd
from fgkeras.data import image_header
from fgkeras.inference.images import check_images, encoded_image, load_image, load_images
from fgkeras.inference.prediction import predict
from tests.image_bombs import write_bombs

SIZE = 16


@pytest.fixture
def class_folder(tmp_path):
    """Two classes of smooth pictures in four formats, TIFF (PIL-decoded) included."""
    root = tmp_path / "folder"
    rng = np.random.default_rng(0)
    files = {"a": [("1.png", (37, 45)), ("2.tiff", (30, 20))], "b": [("3.jpg", (25, 40)),
             ("4.bmp", (48, 33))]}  # fmt: skip
    paths = []
    for label, items in files.items():
        (root / label).mkdir(parents=True)
        for name, (height, width) in items:
            yy, xx = np.mgrid[0:height, 0:width]
            pixels = np.stack([yy * 5, xx * 6, rng.integers(0, 255) + 0 * xx], -1) % 256
            Image.fromarray(pixels.astype(np.uint8)).save(root / label / name)
            paths.append(str(root / label / name))
    return root, paths


@pytest.mark.parametrize("resize_size", [None, 24])
def test_same_pixels_as_the_evaluation_pipeline(class_folder, resize_size):
    root, paths = class_folder
    ds = fd.load(str(root), "train", image_size=SIZE, resize_size=resize_size, crop="center",
                 shuffle=False, batch_size=8)  # fmt: skip
    want = next(iter(ds))[0].numpy()
    got = load_images(paths, SIZE, resize_size)
    assert got.shape == (4, SIZE, SIZE, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4)
    one = load_image(paths[1], SIZE, resize_size)  # decoder found by checking the file
    np.testing.assert_allclose(one, want[1], atol=1e-4)


def test_non_square_sizes_and_own_size(class_folder):
    _, paths = class_folder
    assert load_images(paths, (8, 12)).shape == (4, 8, 12, 3)
    assert load_image(paths[0]).shape == (37, 45, 3)


def test_encoded_image_keeps_tf_formats_and_reencodes_the_others(class_folder):
    _, paths = class_folder
    checked = check_images(paths)
    assert [f.decoder for f in checked] == [0, 1, 0, 0] and all(f.error is None for f in checked)
    with open(paths[0], "rb") as f:
        assert encoded_image(paths[0], 0) == f.read()
    assert encoded_image(paths[1], 1)[:4] == b"\x89PNG"


def test_bombs_are_refused_naming_file_size_and_limit(tmp_path, class_folder):
    bombs = write_bombs(tmp_path / "bombs")
    for path in bombs.values():
        with pytest.raises(fd.ImageFileError) as error:
            load_images([class_folder[1][0], path], SIZE)
        message = str(error.value)
        assert str(path) in message and "30000x30000 = 900,000,000 pixels" in message
        assert "limit of 89,478,485" in message
    with pytest.raises(FileNotFoundError, match="Image file not found"):
        load_images([str(tmp_path / "missing.png")], SIZE)
    with pytest.raises(fd.ImageFileError, match="limit of 100"):
        load_image(class_folder[1][0], SIZE, max_pixels=100)


def colour_model(size=8):
    inputs = keras.Input((size, size, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Rescaling(0.01, name="predictions")(pooled))


def test_predict_gives_bombs_a_per_file_error(tmp_path, class_folder, monkeypatch):
    bombs = write_bombs(tmp_path / "bombs")
    _, paths = class_folder
    results = predict(colour_model(), [paths[0], tmp_path / "bombs", paths[2]], top_k=1)
    by_name = {os.path.basename(r["path"]): r for r in results}
    assert by_name["1.png"]["error"] is None and by_name["3.jpg"]["predictions"]
    for extension in bombs:
        error = by_name[f"bomb.{extension}"]["error"]
        assert error.startswith("image too large: its header declares 30000x30000")
        assert "limit of 89,478,485" in error
        assert by_name[f"bomb.{extension}"]["predictions"] == []
    # The limit: an argument, or the environment.
    small = predict(colour_model(), [paths[0]], max_pixels=37 * 45 - 1)
    assert "limit of 1,664" in small[0]["error"]
    monkeypatch.setenv(image_header.ENV_VAR, "100")
    assert "limit of 100 " in predict(colour_model(), [paths[0]])[0]["error"]
