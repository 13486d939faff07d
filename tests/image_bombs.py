"""Tiny decompression bombs for the tests: valid headers that declare 30000×30000 pixels.

Each file is a few hundred bytes; decoding one would allocate 2.7 GB. Every
entry point must refuse it from the header alone, before decoding.
"""

import io
import struct
import zlib

from PIL import Image

SIDE = 30000  # declared width and height of every bomb


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width=SIDE, height=SIDE):
    """A PNG whose IHDR (with a correct CRC) declares ``width`` × ``height`` RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + 3 * 64) * 4)  # a few rows of real image data
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")
    )


def _small(fmt):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 60, 30)).save(buffer, fmt)
    return bytearray(buffer.getvalue())


def jpeg_bomb(width=SIDE, height=SIDE):
    """A baseline JPEG (Pillow's) whose SOF0 marker is patched to ``width`` × ``height``."""
    data = _small("JPEG")
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_bomb(width=SIDE, height=SIDE):
    """A GIF whose logical screen is ``width`` × ``height``."""
    data = _small("GIF")
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_bomb(width=SIDE, height=SIDE):
    """A BMP whose BITMAPINFOHEADER declares ``width`` × ``height`` (the pixel data is 8×8)."""
    data = _small("BMP")
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


BOMBS = {"png": png_bomb, "jpg": jpeg_bomb, "gif": gif_bomb, "bmp": bmp_bomb}


def write_bombs(folder):
    """Write one bomb per format into ``folder``; return ``{extension: path}``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for extension, make in BOMBS.items():
        path = folder / f"bomb.{extension}"
        path.write_bytes(make())
        paths[extension] = path
    return paths
