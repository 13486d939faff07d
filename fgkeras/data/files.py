"""Up-front checks of image files, so bad files are named before training starts.

One quick pass in Python (threaded, header-level work only) finds missing,
zero-byte, non-image, truncated and undecodable files. It also reads each
image's size (for normalizing pixel boxes) and picks the decoder: TensorFlow
for JPEG, PNG (8/16-bit, grey, RGBA, palette), GIF, BMP and WebP (CMYK JPEGs
included), PIL for the rest (TIFF, ...).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import warnings

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
TF_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "MPO")
DECODER_TF, DECODER_PIL = 0, 1
_CACHE = {}


class ImageFileError(ValueError):
    """An image file cannot be read; the message names the file and the reason."""


@dataclasses.dataclass
class FileCheck:
    """Result of :func:`check_image_files` (arrays aligned with the input paths).

    Attributes:
        ok: bool mask of readable files.
        decoder: int8, 0 = TensorFlow, 1 = PIL.
        height, width: int32 image size in pixels (0 where unreadable).
        bad: list of ``(path, reason)`` for the unreadable files.
    """

    ok: np.ndarray
    decoder: np.ndarray
    height: np.ndarray
    width: np.ndarray
    bad: list


def _check_one(path):
    """Return ``(decoder, height, width, error)`` for one file."""
    from PIL import Image, UnidentifiedImageError

    try:
        stat = os.stat(path)
    except OSError:
        return 0, 0, 0, "missing file"
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key in _CACHE:
        return _CACHE[key]
    result = _inspect(path, stat.st_size, Image, UnidentifiedImageError)
    _CACHE[key] = result
    return result


def _inspect(path, size, Image, UnidentifiedImageError):
    if size == 0:
        return 0, 0, 0, "empty file (0 bytes)"
    try:
        with Image.open(path) as im:
            fmt, (width, height) = im.format, im.size
            if fmt in ("JPEG", "MPO"):
                with open(path, "rb") as f:
                    f.seek(max(0, size - 1024))
                    if b"\xff\xd9" not in f.read():
                        return 0, 0, 0, "truncated JPEG (no end-of-image marker)"
            elif fmt in ("PNG", "GIF", "BMP"):
                im.verify()
            else:
                im.load()
    except UnidentifiedImageError:
        return 0, 0, 0, "not an image file"
    except Exception as e:  # PIL raises many types for damaged files
        return 0, 0, 0, f"damaged image ({type(e).__name__}: {e})"
    decoder = DECODER_TF if fmt in TF_FORMATS else DECODER_PIL
    return decoder, height, width, None


def check_image_files(paths, on_error="skip", *, name="files"):
    """Check that every file is a readable image; skip or raise on bad ones.

    Args:
        paths: sequence of file paths.
        on_error: ``"skip"`` (warn with the count and the first paths) or
            ``"raise"`` (raise :class:`ImageFileError` at the first bad file).
            Defaults to ``"skip"``.
        name: what the files are, for the warning. Defaults to ``"files"``.

    Returns:
        A :class:`FileCheck`.

    >>> check_image_files(["/no/such.jpg"], on_error="raise")
    Traceback (most recent call last):
    ...
    fgkeras.data.files.ImageFileError: Cannot read image '/no/such.jpg': missing file.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise'. Received: on_error={on_error!r}")
    paths = [os.fspath(p) for p in paths]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_check_one, paths, chunksize=64))
    bad = [(p, r[3]) for p, r in zip(paths, results) if r[3] is not None]
    if bad and on_error == "raise":
        raise ImageFileError(f"Cannot read image {bad[0][0]!r}: {bad[0][1]}.")
    if bad:
        first = "; ".join(f"{p} ({reason})" for p, reason in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        warnings.warn(
            f"Skipped {len(bad)} unreadable image file(s) of {len(paths)} {name}: "
            f"{first}{more}. Pass on_error='raise' to stop at the first one instead.",
            stacklevel=3,
        )
    return FileCheck(
        ok=np.array([r[3] is None for r in results], bool),
        decoder=np.array([r[0] for r in results], np.int8),
        height=np.array([r[1] for r in results], np.int32),
        width=np.array([r[2] for r in results], np.int32),
        bad=bad,
    )


def decode_with_pil(path, channels=3):
    """Decode a file TensorFlow cannot (TIFF, ...) to ``uint8 [H, W, channels]``.

    16-bit and float images are scaled to 8 bits by their type range.
    """
    from PIL import Image

    if isinstance(path, np.ndarray):  # from tf.numpy_function
        path = path.item()
    if isinstance(path, bytes):
        path = path.decode()
    channels = int(channels)
    with Image.open(path) as im:
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im, np.float64) / 257.0
            im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        elif im.mode == "F":
            im = Image.fromarray(np.clip(np.asarray(im) * 255.0, 0, 255).astype(np.uint8))
        arr = np.asarray(im.convert("L" if channels == 1 else "RGB"), np.uint8)
    return arr[..., None] if channels == 1 else arr
