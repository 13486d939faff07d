"""The one Python-side image-loading path of predict and explain, shared with export.

Files are checked first, header-level work only
(`fgkeras.data.files.check_image_files`): missing, empty, damaged and
non-image files, and images whose header declares more pixels than the limit
(decompression bombs, `fgkeras.data.image_header`), are named and never
decoded. Readable files are then decoded by the evaluation pipeline's
`fgkeras.data.transforms.decode` and resized by its
`fgkeras.data.transforms.resize_image`, the function the exported signatures
also resize with (`fgkeras.serving.preprocess`). A file thus gives the same
pixels to `fgkeras.predict`, `fgkeras explain`, `fgkeras.data.load`
(evaluation crops) and the SavedModel's ``serving_default``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np

__all__ = ["ImageFile", "check_images", "encoded_image", "load_image", "load_images"]


@dataclasses.dataclass
class ImageFile:
    """One checked image file.

    Attributes:
        path: the file.
        decoder: 0 = TensorFlow (JPEG, PNG, GIF, BMP, WebP), 1 = PIL (TIFF, ...).
        error: why the file cannot be used (e.g. ``"image too large: ..."``),
            or None.
    """

    path: str
    decoder: int
    error: str | None = None


def check_images(paths, max_pixels=None) -> list[ImageFile]:
    """Check image files without decoding them; one `ImageFile` per path, in order.

    Args:
        paths: image file paths.
        max_pixels: pixel limit (width × height) read from each header; None
            takes ``$FGKERAS_MAX_IMAGE_PIXELS`` or 89,478,485. Defaults to None.

    >>> import tempfile
    >>> from PIL import Image
    >>> folder = tempfile.mkdtemp()
    >>> Image.new("RGB", (40, 30)).save(os.path.join(folder, "a.png"))
    >>> [f.error for f in check_images([os.path.join(folder, "a.png")])]
    [None]
    >>> check_images([os.path.join(folder, "a.png")], max_pixels=1000)[0].error[:46]
    'image too large: its header declares 40x30 = 1'
    """
    from fgkeras.data.files import check_image_files

    paths = [os.fspath(path) for path in paths]
    with warnings.catch_warnings():  # the reasons are returned, not warned
        warnings.simplefilter("ignore")
        check = check_image_files(paths, on_error="skip", max_pixels=max_pixels)
    reasons = dict(check.bad)
    return [
        ImageFile(path, int(decoder), None if ok else reasons[path])
        for path, ok, decoder in zip(paths, check.ok, check.decoder)
    ]


def load_image(path, image_size=None, resize_size=None, *, decoder=None, max_pixels=None):
    """One image file as ``float32 [h, w, 3]`` (0-255), resized as the evaluation pipeline does.

    Args:
        path: an image file.
        image_size: output size, an int or ``(height, width)``; None keeps
            the file's own size. Defaults to None.
        resize_size: None resizes the whole image to ``image_size``; an int
            resizes the shorter side to it, then keeps the centre crop.
            Defaults to None.
        decoder: 0 (TensorFlow) or 1 (PIL) from `check_images`; None checks
            the file first and raises `fgkeras.data.ImageFileError` (a
            ValueError) naming it when it cannot be used. Defaults to None.
        max_pixels: pixel limit; see `check_images`. Defaults to None.

    Returns:
        A `tf.Tensor`.

    >>> import tempfile
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> Image.new("RGB", (40, 30), (200, 0, 0)).save(path)
    >>> image = load_image(path, 16)
    >>> image.shape, float(image[0, 0, 0])
    (TensorShape([16, 16, 3]), 200.0)
    """
    from fgkeras.data import transforms

    path = os.fspath(path)
    if decoder is None:
        decoder = _usable(_check_existing([path], max_pixels)[0]).decoder
    # The header was checked by check_images (decoder comes from it): no second check.
    example = {"path": path, "decoder": decoder}
    image = transforms.decode(example, 3, max_pixels, header_checked=True)["image"]
    if image_size is None:
        import tensorflow as tf

        return tf.cast(image, tf.float32)
    return transforms.resize_image(image, image_size, resize_size)


def load_images(paths, image_size, resize_size=None, max_pixels=None) -> np.ndarray:
    """Image files as one ``float32 (n, height, width, 3)`` batch (0-255).

    Every file is checked before any is decoded: a missing file raises
    `FileNotFoundError`; an unreadable one, or one whose header declares more
    than ``max_pixels`` pixels, raises `fgkeras.data.ImageFileError` (a
    ValueError) naming the file and the reason.

    Args:
        paths: image file paths.
        image_size: output size, an int or ``(height, width)``.
        resize_size: see `load_image`. Defaults to None.
        max_pixels: pixel limit; see `check_images`. Defaults to None.

    >>> import tempfile
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "a.jpg")
    >>> Image.new("RGB", (40, 30)).save(path)
    >>> load_images([path, path], (8, 12)).shape
    (2, 8, 12, 3)
    """
    paths = [os.fspath(path) for path in paths]
    if not paths:
        raise ValueError("No image files given. Pass one or more image file paths.")
    checked = [_usable(image_file) for image_file in _check_existing(paths, max_pixels)]
    images = [
        load_image(f.path, image_size, resize_size, decoder=f.decoder, max_pixels=max_pixels)
        for f in checked
    ]
    return np.stack([np.asarray(image, np.float32) for image in images])


def encoded_image(path, decoder=0) -> bytes:
    """The bytes a bytes-input signature takes for one checked file.

    Formats TensorFlow decodes (``decoder`` 0) are sent as they are; others
    (TIFF, ...) are decoded with PIL and sent as PNG.

    >>> import tempfile
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "a.tiff")
    >>> Image.new("RGB", (4, 3)).save(path)
    >>> encoded_image(path, decoder=1)[:4]
    b'\\x89PNG'
    """
    import tensorflow as tf

    from fgkeras.data import transforms

    path = os.fspath(path)
    if int(decoder) == 0:
        with open(path, "rb") as f:
            return f.read()
    image = transforms.decode({"path": path, "decoder": 1})["image"]
    return tf.io.encode_png(image).numpy()


def _check_existing(paths, max_pixels):
    """`check_images`, after raising FileNotFoundError for the first missing file."""
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Image file not found: {path!r}. Pass paths of existing image files."
            )
    return check_images(paths, max_pixels)


def _usable(image_file):
    """``image_file`` itself; ImageFileError (a ValueError) naming it if it has an error."""
    from fgkeras.data.files import ImageFileError

    if image_file.error is not None:
        raise ImageFileError(f"Cannot read image {image_file.path!r}: {image_file.error}.")
    return image_file
