"""Bad input: damaged files are skipped and counted (or raised), other problems named."""

import io

import numpy as np
import pytest
from PIL import Image

import fgkeras.data as fd
from tests.data.conftest import write_image


@pytest.fixture
def messy_folder(tmp_path):
    root = tmp_path / "messy"
    good = [write_image(root / "a" / f"good{i}.png") for i in range(2)]
    good.append(write_image(root / "b" / "good.jpg"))
    (root / "b" / "zero.jpg").write_bytes(b"")
    (root / "b" / "text.jpg").write_text("this is not an image")
    noisy = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        noisy, "JPEG"
    )
    (root / "b" / "truncated.jpg").write_bytes(noisy.getvalue()[:3000])
    png = (root / "a" / "good0.png").read_bytes()
    (root / "a" / "cut.png").write_bytes(png[: len(png) // 2])
    (root / "a" / "notes.txt").write_text("ignored: not an image extension")
    return root


def test_skip_counts_and_names_bad_files(messy_folder):
    with pytest.warns(UserWarning, match=r"Skipped 4 unreadable image file\(s\) of 7") as rec:
        ds = fd.load(str(messy_folder), image_size=8, batch_size=16, shuffle=False)
    message = str(rec[0].message)
    assert "cut.png" in message and "and 1 more" in message
    x, y = next(iter(ds))
    assert y.numpy().tolist() == [0, 0, 1]  # labels of the good files are unchanged
    assert ds.source_info["skipped"][0][0].endswith("cut.png")
    reasons = {p.rsplit("/", 1)[-1]: r for p, r in ds.source_info["skipped"]}
    assert reasons["text.jpg"] == "not an image file"
    assert reasons["truncated.jpg"].startswith("truncated JPEG")
    assert reasons["zero.jpg"] == "empty file (0 bytes)"


def test_raise_stops_at_first_bad_file_with_its_path(messy_folder):
    with pytest.raises(fd.ImageFileError, match=r"Cannot read image '.*cut\.png': damaged"):
        fd.load(str(messy_folder), on_error="raise")


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "I;16", "P", "LA"])
def test_unusual_modes_decode_to_rgb(tmp_path, mode):
    arr = np.zeros((10, 12, 3), np.uint8)
    arr[:, :6] = (250, 250, 250)
    img = Image.fromarray(arr)
    if mode == "I;16":
        img = Image.fromarray(arr[..., 0].astype(np.uint16) * 257).convert("I;16")
    else:
        img = img.convert(mode)
    ext = "jpg" if mode == "CMYK" else "png"
    path = tmp_path / "c" / f"img.{ext}"
    path.parent.mkdir()
    img.save(path)
    ds = fd.load(str(tmp_path), image_size=12, batch_size=1, on_error="raise")
    x = next(iter(ds))[0].numpy()[0]
    assert x.shape == (12, 12, 3)
    assert x[:, :4].mean() > 235 and x[:, 8:].mean() < 20, mode


def test_empty_class_folder(tmp_path):
    write_image(tmp_path / "a" / "x.png")
    (tmp_path / "b").mkdir()
    with pytest.raises(ValueError, match=r"Class folder '.*b' has no image files"):
        fd.load(str(tmp_path))


def test_missing_directory():
    with pytest.raises(FileNotFoundError, match="No such directory for source 'folder'"):
        fd.load("folder", data_dir="/no/such/folder")
    with pytest.raises(FileNotFoundError, match="No such file or directory"):
        fd.load("/no/such/folder")


def test_folder_without_class_subfolders(tmp_path):
    write_image(tmp_path / "x.png")
    with pytest.raises(ValueError, match="has no class subfolders"):
        fd.load(str(tmp_path))


def test_all_files_bad(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no readable images"):
        fd.load(str(tmp_path))


def test_unknown_source_name():
    with pytest.raises(ValueError, match="Unknown source 'imagenet'"):
        fd.load("imagenet")


def test_missing_file_in_csv(tmp_path):
    write_image(tmp_path / "a.png")
    (tmp_path / "l.csv").write_text("a.png,x\nmissing.png,y\n")
    with pytest.warns(UserWarning, match="missing file"):
        ds = fd.load(str(tmp_path / "l.csv"), image_size=8)
    assert ds.class_names == ["x", "y"]  # classes stay as listed: no silent relabelling
    assert next(iter(ds))[1].numpy().tolist() == [0]
