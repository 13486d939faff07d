"""Up-front checks of image files, so bad files are named before training starts.

One quick pass in Python (threaded, header-level work only) finds missing,
zero-byte, non-image, truncated and undecodable files, and images whose
header declares more pixels than the limit (decompression bombs; see
`fgkeras.data.image_header`), without decoding them. It also reads each
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

from fgkeras.data.image_header import (
    check_size,
    max_image_pixels,
    read_header_size,
    too_large_message,
)

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


def _check_one(path, max_pixels):
    """Return ``(decoder, height, width, error)`` for one file."""
    from PIL import Image, UnidentifiedImageError

    try:
        stat = os.stat(path)
    except OSError:
        return 0, 0, 0, "missing file"
    key = (path, stat.st_mtime_ns, stat.st_size, max_pixels)
    if key in _CACHE:
        return _CACHE[key]
    result = _inspect(path, stat.st_size, max_pixels, Image, UnidentifiedImageError)
    _CACHE[key] = result
    return result


def _inspect(path, size, max_pixels, Image, UnidentifiedImageError):
    if size == 0:
        return 0, 0, 0, "empty file (0 bytes)"
    try:  # the declared size first: PIL must not even open a decompression bomb
        declared = read_header_size(path)
    except OSError as e:
        return 0, 0, 0, f"unreadable file ({type(e).__name__}: {e})"
    if declared is not None and declared[0] * declared[1] > max_pixels:
        return 0, 0, 0, too_large_message(declared[0], declared[1], max_pixels)
    try:
        with Image.open(path) as im:
            fmt, (width, height) = im.format, im.size
            if width * height > max_pixels:  # formats without a parsed header (TIFF, ...)
                return 0, 0, 0, too_large_message(height, width, max_pixels)
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
    except Image.DecompressionBombError as e:  # PIL's own limit, below ours
        return 0, 0, 0, f"image too large for PIL ({e}); raise PIL.Image.MAX_IMAGE_PIXELS too"
    except Exception as e:  # PIL raises many types for damaged files
        return 0, 0, 0, f"damaged image ({type(e).__name__}: {e})"
    decoder = DECODER_TF if fmt in TF_FORMATS else DECODER_PIL
    return decoder, height, width, None


def check_image_files(paths, on_error="skip", *, name="files", max_pixels=None):
    """Check that every file is a readable image; skip or raise on bad ones.

    An image whose header declares more than ``max_pixels`` pixels (width ×
    height) is a bad file too ("image too large: ..."); it is never decoded.

    Args:
        paths: sequence of file paths.
        on_error: ``"skip"`` (warn with the count and the first paths) or
            ``"raise"`` (raise :class:`ImageFileError` at the first bad file).
            Defaults to ``"skip"``.
        name: what the files are, for the warning. Defaults to ``"files"``.
        max_pixels: pixel limit; None takes ``$FGKERAS_MAX_IMAGE_PIXELS`` or
            89,478,485 (`fgkeras.data.image_header.max_image_pixels`).
            Defaults to None.

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
    limit = max_image_pixels(max_pixels)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_check_one, paths, [limit] * len(paths), chunksize=64))
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


def decode_with_pil(path, channels=3, max_pixels=None):
    """Decode a file TensorFlow cannot (TIFF, ...) to ``uint8 [H, W, channels]``.

    16-bit and float images are scaled to 8 bits by their type range. An
    image larger than ``max_pixels`` (None: the default limit) raises
    `fgkeras.data.image_header.ImageTooLargeError` before it is decoded.
    """
    from PIL import Image

    if isinstance(path, np.ndarray):  # from tf.numpy_function
        path = path.item()
    if isinstance(path, bytes):
        path = path.decode()
    channels = int(channels)
    max_pixels = None if max_pixels is None else int(max_pixels)
    with Image.open(path) as im:
        check_size(im.size[::-1], max_pixels, name=path)
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im, np.float64) / 257.0
            im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        elif im.mode == "F":
            im = Image.fromarray(np.clip(np.asarray(im) * 255.0, 0, 255).astype(np.uint8))
        arr = np.asarray(im.convert("L" if channels == 1 else "RGB"), np.uint8)
    return arr[..., None] if channels == 1 else arr
