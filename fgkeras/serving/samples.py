"""Sample images for warmup, verification and TFLite parity.

Without real images at hand, `synthetic_images` draws smooth, deterministic
pictures (colour gradients and blobs, not square, not at the model's size),
so JPEG compression and resizing behave as on photographs.
"""

from __future__ import annotations

import glob
import io
import os

import numpy as np

IMAGE_GLOBS = ("*.jpg", "*.jpeg", "*.png", "*.bmp", "*.gif", "*.JPG", "*.JPEG", "*.PNG")


def synthetic_images(count=4, size=(48, 40), seed=0) -> np.ndarray:
    """``uint8 [count, h, w, 3]`` smooth random pictures.

    >>> synthetic_images(2, size=(8, 6)).shape
    (2, 8, 6, 3)
    """
    rng = np.random.default_rng(seed)
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width].astype("float32")
    out = np.empty((count, height, width, 3), "float32")
    for i in range(count):
        base = rng.uniform(0, 255, 3) + rng.uniform(-1, 1, 3) * (yy[..., None] / height) * 200
        base = base + rng.uniform(-1, 1, 3) * (xx[..., None] / width) * 200
        for _ in range(3):
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            r = rng.uniform(1, max(2, width / 2))
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
            base = base + blob[..., None] * rng.uniform(-150, 150, 3)
        out[i] = base
    return np.clip(out, 0, 255).round().astype("uint8")


def encode(images, image_format="png", quality=95) -> list[bytes]:
    """Encode ``uint8 [N, h, w, 3]`` images as PNG, JPEG, BMP or GIF bytes (Pillow).

    >>> encode(synthetic_images(1, size=(4, 4)), "png")[0][:4]
    b'\\x89PNG'
    """
    from PIL import Image

    formats = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "bmp": "BMP", "gif": "GIF"}
    if image_format.lower() not in formats:
        raise ValueError(
            f"`image_format` must be one of {sorted(formats)}. Received: {image_format!r}"
        )
    encoded = []
    for image in np.asarray(images, "uint8"):
        buffer = io.BytesIO()
        kwargs = {"quality": quality} if formats[image_format.lower()] == "JPEG" else {}
        Image.fromarray(image).save(buffer, formats[image_format.lower()], **kwargs)
        encoded.append(buffer.getvalue())
    return encoded


def decode_with_pil(data: bytes) -> np.ndarray:
    """Decode image bytes to ``uint8 [h, w, 3]`` with Pillow (an independent decoder).

    >>> decode_with_pil(encode(synthetic_images(1, size=(4, 5)))[0]).shape
    (4, 5, 3)
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), "uint8")


def read_image_files(path, limit=16) -> list[bytes]:
    """The bytes of up to ``limit`` image files: one file, or a folder (recursive).

    >>> read_image_files("/no/such/folder")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No image files found at '/no/such/folder' ...
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        files = [path]
    else:
        files = sorted(
            {
                f
                for pattern in IMAGE_GLOBS
                for f in glob.glob(os.path.join(path, "**", pattern), recursive=True)
            }
        )
    if not files:
        raise FileNotFoundError(
            f"No image files found at {path!r} (looked for {', '.join(IMAGE_GLOBS[:5])}). "
            "Pass an image file or a folder holding some."
        )
    out = []
    for name in files[:limit]:
        with open(name, "rb") as f:
            out.append(f.read())
    return out
