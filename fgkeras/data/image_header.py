"""Image sizes read from file headers, and the pixel limit against decompression bombs.

A PNG of a few hundred bytes can declare 30000×30000 pixels; decoding it
would allocate 2.7 GB. Every path that decodes images (the `fgkeras.data`
pipeline and its up-front file check, `fgkeras.predict`, `fgkeras explain`
and the exported ``serving_default`` signature) reads the declared size from
the header first and refuses an image above the limit, without decoding it:

- PNG: the IHDR chunk (width, height: big-endian uint32 at bytes 16 and 20);
- GIF: the logical screen (little-endian uint16 at bytes 6 and 8);
- BMP: the DIB header (int32 at 18 and 22, or uint16 for the old 12-byte
  header; a negative height means top-down rows);
- WebP: the VP8, VP8L or VP8X chunk header;
- JPEG: the first start-of-frame (SOF) marker segment.

`header_size` (bytes) and `read_header_size` (a file) do it in Python;
`header_size_tf` does it in the graph (`tf.strings` and `tf.io.decode_raw`,
`tf.io.extract_jpeg_shape` for JPEG), for `tf.data` and the SavedModel.

The limit is `MAX_IMAGE_PIXELS` (PIL's default, 89,478,485 pixels: about
9459×9459), overridden by the environment variable ``FGKERAS_MAX_IMAGE_PIXELS``
and by the ``max_pixels`` argument of the functions that take one.
"""

from __future__ import annotations

import numbers
import os
import struct

MAX_IMAGE_PIXELS = 89_478_485  # PIL's Image.MAX_IMAGE_PIXELS: 1024**3 // 4 // 3
ENV_VAR = "FGKERAS_MAX_IMAGE_PIXELS"
HEADER_BYTES = 32  # enough for the PNG, GIF, BMP and WebP sizes

# JPEG start-of-frame markers (C4 = DHT, C8 = JPG and CC = DAC are not frames).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_NO_LENGTH = frozenset(range(0xD0, 0xD8)) | {0x01, 0xD8}  # RSTn, TEM, SOI


class ImageTooLargeError(ValueError):
    """An image declares more pixels than the limit; the message says both numbers."""


def max_image_pixels(max_pixels=None) -> int:
    """The pixel limit: ``max_pixels``, else ``$FGKERAS_MAX_IMAGE_PIXELS``, else 89,478,485.

    Args:
        max_pixels: a positive integer, or None for the environment or the
            default. Defaults to None.

    >>> max_image_pixels(), max_image_pixels(1000)
    (89478485, 1000)
    """
    source = "max_pixels"
    if max_pixels is None:
        value = os.environ.get(ENV_VAR, "").strip()
        if not value:
            return MAX_IMAGE_PIXELS
        source = ENV_VAR
        try:
            max_pixels = int(value.replace("_", "").replace(",", ""))
        except ValueError:
            max_pixels = value
    integer = isinstance(max_pixels, numbers.Integral) and not isinstance(max_pixels, bool)
    if not integer or max_pixels < 1:
        raise ValueError(
            "The image pixel limit must be a positive integer (width × height). "
            f"Received: {source}={max_pixels!r}"
        )
    return int(max_pixels)


def too_large_message(height, width, max_pixels) -> str:
    """The reason given for an image above the limit.

    >>> too_large_message(30000, 30000, 89478485)
    'image too large: its header declares 30000x30000 = 900,000,000 pixels, more than the \
limit of 89,478,485 (raise it with max_pixels= or FGKERAS_MAX_IMAGE_PIXELS for trusted files)'
    """
    return (
        f"image too large: its header declares {width}x{height} = {height * width:,} pixels, "
        f"more than the limit of {max_pixels:,} (raise it with max_pixels= or {ENV_VAR} "
        "for trusted files)"
    )


def check_size(size, max_pixels=None, name="image") -> None:
    """Raise `ImageTooLargeError` if ``size`` = ``(height, width)`` exceeds the limit.

    ``size`` None (a format whose header is not parsed) passes.

    >>> check_size((100, 100), max_pixels=10_000)
    >>> check_size((100, 101), max_pixels=10_000, name="x.png")
    Traceback (most recent call last):
    ...
    fgkeras.data.image_header.ImageTooLargeError: x.png: image too large: its header declares \
101x100 = 10,100 pixels, more than the limit of 10,000 (...)
    """
    limit = max_image_pixels(max_pixels)
    if size is not None and size[0] * size[1] > limit:
        raise ImageTooLargeError(f"{name}: {too_large_message(size[0], size[1], limit)}")


def header_size(data: bytes):
    """``(height, width)`` declared by an image's first bytes, or None.

    None for formats other than PNG, GIF, BMP, WebP and JPEG, and for a JPEG
    whose start-of-frame is not within ``data``.

    >>> import struct, zlib
    >>> ihdr = b"IHDR" + struct.pack(">IIBBBBB", 30000, 20000, 8, 2, 0, 0, 0)
    >>> png = b"\\x89PNG\\r\\n\\x1a\\n" + struct.pack(">I", 13) + ihdr
    >>> header_size(png + struct.pack(">I", zlib.crc32(ihdr)))
    (20000, 30000)
    """
    data = bytes(data)
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_size(_BytesReader(data))
    return _fixed_size(data[:HEADER_BYTES])


def read_header_size(path):
    """``(height, width)`` declared by an image file's header, or None (see `header_size`).

    Reads only the header: the first 32 bytes, and for JPEG the marker
    segments up to the start-of-frame (seeking over EXIF and other data).

    >>> import tempfile
    >>> from PIL import Image
    >>> path = tempfile.mktemp(suffix=".jpg")
    >>> Image.new("RGB", (40, 30)).save(path)
    >>> read_header_size(path)
    (30, 40)
    """
    with open(os.fspath(path), "rb") as f:
        head = f.read(HEADER_BYTES)
        if head[:3] == b"\xff\xd8\xff":
            f.seek(2)
            return _jpeg_size(f)
    return _fixed_size(head)


def _fixed_size(head):
    """PNG, GIF, BMP and WebP sizes: fixed offsets in the first 32 bytes."""
    head = head + b"\0" * (HEADER_BYTES - len(head))
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return height, width
    if head[:4] == b"GIF8":
        width, height = struct.unpack("<HH", head[6:10])
        return height, width
    if head[:2] == b"BM":
        if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER
            width, height = struct.unpack("<HH", head[18:22])
        else:
            width, height = struct.unpack("<ii", head[18:26])
        return abs(height), abs(width)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        chunk = head[12:16]
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", head[26:30])
            return height & 0x3FFF, width & 0x3FFF
        if chunk == b"VP8L":
            bits = struct.unpack("<I", head[21:25])[0]
            return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
        if chunk == b"VP8X":
            width = int.from_bytes(head[24:27], "little") + 1
            height = int.from_bytes(head[27:30], "little") + 1
            return height, width
    return None


class _BytesReader:
    """The ``read``/``seek`` of a file over bytes (for `_jpeg_size`)."""

    def __init__(self, data):
        self.data, self.position = data, 2

    def read(self, count):
        out = self.data[self.position : self.position + count]
        self.position += len(out)
        return out

    def seek(self, offset, whence=0):
        self.position = self.position + offset if whence == 1 else offset


def _jpeg_size(f, max_segments=10_000):
    """Walk JPEG marker segments from after SOI to the first SOF; None if there is none."""
    for _ in range(max_segments):
        byte = f.read(1)
        while byte and byte != b"\xff":  # garbage between segments: skip it
            byte = f.read(1)
        while byte == b"\xff":  # fill bytes
            byte = f.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in _NO_LENGTH:
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before
            return None
        length = f.read(2)
        if len(length) < 2:
            return None
        length = struct.unpack(">H", length)[0]
        if marker in _SOF:
            frame = f.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return (height, width) if height and width else None
        if length < 2:
            return None
        f.seek(length - 2, 1)
    return None


def header_size_tf(contents):
    """In-graph `header_size`: int64 ``[2]`` ``(height, width)``, ``(0, 0)`` when unknown.

    Works eagerly and inside ``Dataset.map``/`tf.function`. JPEG sizes come
    from `tf.io.extract_jpeg_shape` (header only), which raises
    `tf.errors.InvalidArgumentError` for a JPEG without a readable header.

    >>> import tensorflow as tf
    >>> header_size_tf(tf.io.encode_png(tf.zeros([3, 5, 3], tf.uint8))).numpy().tolist()
    [3, 5]
    """
    import tensorflow as tf

    contents = tf.convert_to_tensor(contents, tf.string)
    padded = tf.strings.join([tf.strings.substr(contents, 0, HEADER_BYTES), "\0" * HEADER_BYTES])
    raw = tf.io.decode_raw(tf.strings.substr(padded, 0, HEADER_BYTES), tf.uint8)
    b = tf.cast(tf.reshape(raw, [HEADER_BYTES]), tf.int64)

    def big(i, n):
        return sum(b[i + k] * (1 << (8 * (n - 1 - k))) for k in range(n))

    def little(i, n):
        return sum(b[i + k] * (1 << (8 * k)) for k in range(n))

    def signed(value):  # int32 two's complement, as BMP stores it
        return tf.abs(tf.where(value >= 1 << 31, value - (1 << 32), value))

    def head_is(i, magic):
        return tf.strings.substr(padded, i, len(magic)) == magic

    vp8l = little(21, 4)
    bmp_core = little(14, 4) == 12
    cases = [
        (head_is(0, b"\x89PNG\r\n\x1a\n") & head_is(12, b"IHDR"), (big(20, 4), big(16, 4))),
        (head_is(0, b"GIF8"), (little(8, 2), little(6, 2))),
        (
            head_is(0, b"BM"),
            (
                tf.where(bmp_core, little(20, 2), signed(little(22, 4))),
                tf.where(bmp_core, little(18, 2), signed(little(18, 4))),
            ),
        ),
        (
            head_is(0, b"RIFF") & head_is(8, b"WEBPVP8 "),
            (little(28, 2) % (1 << 14), little(26, 2) % (1 << 14)),
        ),
        (
            head_is(0, b"RIFF") & head_is(8, b"WEBPVP8L"),
            ((vp8l // (1 << 14)) % (1 << 14) + 1, vp8l % (1 << 14) + 1),
        ),
        (
            head_is(0, b"RIFF") & head_is(8, b"WEBPVP8X"),
            (little(27, 3) + 1, little(24, 3) + 1),
        ),
    ]
    size = tf.zeros([2], tf.int64)
    for condition, (height, width) in reversed(cases):
        size = tf.where(condition, tf.stack([height, width]), size)

    def jpeg():
        return tf.cast(tf.io.extract_jpeg_shape(contents)[:2], tf.int64)

    return tf.cond(head_is(0, b"\xff\xd8\xff"), jpeg, lambda: size)


def assert_size_tf(contents, max_pixels=None, name="image"):
    """An op that fails if ``contents`` declares more pixels than the limit.

    Use it as a control dependency of the decode. The error is a
    `tf.errors.InvalidArgumentError` whose message starts with ``name``
    (a string or a string tensor), e.g. ``"image[3]: image too large: ..."``.

    >>> import tensorflow as tf
    >>> png = tf.io.encode_png(tf.zeros([20, 20, 3], tf.uint8))
    >>> _ = assert_size_tf(png, max_pixels=400)
    >>> assert_size_tf(png, max_pixels=399, name="a.png")
    Traceback (most recent call last):
    ...
    tensorflow.python.framework.errors_impl.InvalidArgumentError: ...a.png: image too large: \
its header declares 20x20 = 400 pixels, more than the limit of 399 (...
    """
    import tensorflow as tf

    limit = max_image_pixels(max_pixels)
    size = header_size_tf(contents)
    pixels = size[0] * size[1]
    message = tf.strings.join(
        [
            name,
            tf.strings.format(
                ": image too large: its header declares {}x{} = ", (size[1], size[0])
            ),
            tf.strings.format("{} pixels, more than the limit of ", pixels),
            f"{limit} (raise it with max_pixels= or {ENV_VAR} for trusted files)",
        ]
    )
    return tf.debugging.Assert(pixels <= limit, [message], summarize=1)
