"""Image sizes from headers (Python and in-graph) and the pixel limit in `fgkeras.data`."""

import io
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import fgkeras.data as fd
from fgkeras.data import image_header, transforms
from fgkeras.data.files import check_image_files
from tests.data.conftest import write_image
from tests.image_bombs import BOMBS, SIDE, jpeg_bomb, png_bomb, write_bombs

SIZES = [(23, 37), (64, 17), (1, 1), (300, 200)]  # (height, width)


def _encode(size, fmt, **kwargs):
    height, width = size
    pixels = np.random.default_rng(height * width).integers(0, 255, (height, width, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _exif_jpeg(size):
    """A JPEG with a large EXIF segment before its frame header (PIL writes both)."""
    exif = Image.Exif()
    exif[0x010E] = "x" * 20000  # ImageDescription: pushes the SOF past 20 kB
    return _encode(size, "JPEG", exif=exif.tobytes())


def _grey_png(size):
    buffer = io.BytesIO()
    Image.new("L", size[::-1], 7).save(buffer, "PNG")
    return buffer.getvalue()


CASES = {
    "png": lambda size: _encode(size, "PNG"),
    "grey png": _grey_png,
    "jpeg": lambda size: _encode(size, "JPEG"),
    "progressive jpeg": lambda size: _encode(size, "JPEG", progressive=True),
    "exif jpeg": _exif_jpeg,
    "gif": lambda size: _encode(size, "GIF"),
    "bmp": lambda size: _encode(size, "BMP"),
    "webp lossy": lambda size: _encode(size, "WEBP", quality=80),
    "webp lossless": lambda size: _encode(size, "WEBP", lossless=True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_header_size_matches_pil_on_real_files(case, tmp_path):
    encoded = [CASES[case](size) for size in SIZES]
    # The reference: the size Pillow reads from the same bytes.
    want = [Image.open(io.BytesIO(data)).size[::-1] for data in encoded]
    assert want == SIZES
    assert [image_header.header_size(data) for data in encoded] == SIZES
    for i, data in enumerate(encoded):
        (tmp_path / f"{i}.img").write_bytes(data)
    assert [image_header.read_header_size(tmp_path / f"{i}.img") for i in range(4)] == SIZES
    eager = [tuple(image_header.header_size_tf(data).numpy()) for data in encoded]
    mapped = tf.data.Dataset.from_tensor_slices(encoded).map(image_header.header_size_tf)
    assert eager == SIZES
    assert [tuple(size) for size in mapped.as_numpy_iterator()] == SIZES


def test_unknown_formats_have_no_header_size():
    tiff = _encode((5, 6), "TIFF")
    for data in (tiff, b"", b"hello", b"\xff\xd8\xff\xd9"):
        assert image_header.header_size(data) is None
    assert image_header.header_size_tf(tiff).numpy().tolist() == [0, 0]
    assert image_header.header_size_tf(b"").numpy().tolist() == [0, 0]


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_bombs_declare_their_size_in_python_and_in_the_graph(fmt):
    data = BOMBS[fmt]()
    assert len(data) < 1000
    assert image_header.header_size(data) == (SIDE, SIDE)
    assert image_header.header_size_tf(data).numpy().tolist() == [SIDE, SIDE]
    with pytest.raises(tf.errors.InvalidArgumentError, match="image too large"):
        image_header.assert_size_tf(data, name="x")


def test_bmp_old_header_and_top_down_rows():
    data = bytearray(_encode((10, 12), "BMP"))
    data[22:26] = (-10).to_bytes(4, "little", signed=True)  # top-down rows
    assert image_header.header_size(bytes(data)) == (10, 12)
    assert image_header.header_size_tf(bytes(data)).numpy().tolist() == [10, 12]
    core = b"BM" + bytes(12) + (12).to_bytes(4, "little") + (70).to_bytes(2, "little")
    core += (40).to_bytes(2, "little") + bytes(10)
    assert image_header.header_size(core) == (40, 70)
    assert image_header.header_size_tf(core).numpy().tolist() == [40, 70]


def test_limit_default_argument_and_environment(monkeypatch):
    monkeypatch.delenv(image_header.ENV_VAR, raising=False)
    assert image_header.max_image_pixels() == image_header.MAX_IMAGE_PIXELS == 89_478_485
    monkeypatch.setenv(image_header.ENV_VAR, "1_000")
    assert image_header.max_image_pixels() == 1000
    assert image_header.max_image_pixels(50) == 50  # the argument wins
    monkeypatch.setenv(image_header.ENV_VAR, "lots")
    with pytest.raises(ValueError, match="FGKERAS_MAX_IMAGE_PIXELS='lots'"):
        image_header.max_image_pixels()
    for bad in (0, -5, 1.5, True, "10"):
        with pytest.raises(ValueError, match="positive integer"):
            image_header.max_image_pixels(bad)


def test_check_image_files_names_bombs_without_decoding(tmp_path):
    bombs = write_bombs(tmp_path / "bombs")
    good = write_image(tmp_path / "good.png")
    start = time.perf_counter()
    with pytest.warns(UserWarning, match=r"Skipped 4 unreadable image file\(s\) of 5"):
        check = check_image_files([good, *bombs.values()])
    assert time.perf_counter() - start < 20  # header reads only (decoding: 2.7 GB each)
    assert check.ok.tolist() == [True, False, False, False, False]
    for _, reason in check.bad:
        assert reason.startswith("image too large: its header declares 30000x30000")
        assert "900,000,000 pixels" in reason and "limit of 89,478,485" in reason
    # A raised limit lets them through the header check (then to PIL's own checks).
    small = check_image_files([good], max_pixels=24 * 32)
    assert small.ok.tolist() == [True]
    with pytest.warns(UserWarning, match="image too large"):
        assert not check_image_files([good], max_pixels=24 * 32 - 1).ok[0]


@pytest.fixture
def folder_with_bombs(tmp_path):
    root = tmp_path / "data"
    for i in range(2):
        write_image(root / "a" / f"good{i}.png")
        write_image(root / "b" / f"good{i}.jpg")
    (root / "a" / "bomb.png").write_bytes(png_bomb())
    (root / "b" / "bomb.jpg").write_bytes(jpeg_bomb())
    return root


def test_load_skips_and_counts_bombs(folder_with_bombs):
    with pytest.warns(UserWarning, match=r"Skipped 2 unreadable image file\(s\) of 6") as record:
        ds = fd.load(str(folder_with_bombs), image_size=8, batch_size=8, shuffle=False)
    assert "image too large" in str(record[0].message)
    _, labels = next(iter(ds))
    assert labels.numpy().tolist() == [0, 0, 1, 1]
    reasons = dict(ds.source_info["skipped"])
    assert "30000x30000" in reasons[str(folder_with_bombs / "a" / "bomb.png")]


def test_load_raises_on_a_bomb_with_on_error_raise(folder_with_bombs):
    with pytest.raises(
        fd.ImageFileError, match=r"Cannot read image '.*bomb\.png': image too large.*30000x30000"
    ):
        fd.load(str(folder_with_bombs), on_error="raise")


def test_load_csv_and_the_environment_limit(tmp_path, monkeypatch):
    write_image(tmp_path / "small.png", (10, 10))
    write_image(tmp_path / "large.png", (40, 40))
    (tmp_path / "bomb.gif").write_bytes(BOMBS["gif"]())
    (tmp_path / "l.csv").write_text("small.png,x\nlarge.png,y\nbomb.gif,y\n")
    monkeypatch.setenv(image_header.ENV_VAR, "1000")  # 40x40 = 1600 is now too large
    with pytest.warns(UserWarning, match=r"Skipped 2 unreadable"):
        ds = fd.load(str(tmp_path / "l.csv"), image_size=8, shuffle=False)
    assert next(iter(ds))[1].numpy().tolist() == [0]


def test_raw_layout_skips_a_bomb(cub_dir):
    images = sorted((cub_dir / "images").rglob("*.jpg"))
    images[0].write_bytes(jpeg_bomb())
    with pytest.warns(UserWarning, match="image too large"):
        ds = fd.load(str(cub_dir), "train", image_size=16, batch_size=4, shuffle=False)
    assert len(next(iter(ds))[1]) == 1  # 2 train images, the bomb skipped


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_decode_refuses_encoded_bombs_eagerly_and_in_dataset_map(fmt):
    data = BOMBS[fmt]()
    with pytest.raises(tf.errors.InvalidArgumentError, match="image: image too large"):
        transforms.decode({"encoded": data})
    good = tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8))
    ds = tf.data.Dataset.from_tensor_slices([good, data, good])
    ds = ds.map(lambda e: transforms.decode({"encoded": e})["image"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="30000x30000"):
        list(ds)
    # As `load` does for sources without an up-front file check: skipped.
    assert len(list(ds.ignore_errors())) == 2


def test_decode_of_a_path_names_the_file(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"bomb\.png: image too large"):
        transforms.decode({"path": str(path), "decoder": 0})
    small = tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="limit of 15"):
        transforms.decode({"encoded": small}, max_pixels=15)
    assert transforms.decode({"encoded": small}, max_pixels=16)["image"].shape == (4, 4, 3)


def test_pil_decoder_checks_the_size(tmp_path):
    from fgkeras.data.files import decode_with_pil

    path = tmp_path / "a.tiff"
    Image.new("RGB", (30, 20)).save(path)
    assert decode_with_pil(str(path)).shape == (20, 30, 3)
    with pytest.raises(image_header.ImageTooLargeError, match="30x20 = 600 pixels"):
        decode_with_pil(str(path), 3, 599)
