"""In-graph preprocessing of the exported signatures: decode, then resize.

The SavedModel must see exactly the pixels the evaluation pipeline feeds the
model, so the resizing reuses `fgkeras.data.transforms` (the pipeline's own
``crop_window`` + ``crop_and_resize``). With ``resize_size=None`` (the
pipeline's default for evaluation) the whole image is resized straight to the
model's input size, bilinear at half-pixel centres, without antialiasing:
the same numbers as ``tf.image.resize(image, size, "bilinear",
antialias=False)``. With an integer ``resize_size`` the shorter side is
resized to it and the centre ``image_size`` crop is kept.

All resizing goes through `resize_for_eval`, which is the pipeline's
`fgkeras.data.transforms.resize_image` (also used by `fgkeras.predict` and
`fgkeras explain`, see `fgkeras.inference.images`).

Before decoding, each image's declared size is read from its header and an
image above the pixel limit is refused (decompression bombs; see
`fgkeras.data.image_header`). The limit is fixed in the graph at export time.
"""

from __future__ import annotations

import tensorflow as tf

from fgkeras.data import transforms
from fgkeras.data.image_header import assert_size_tf, max_image_pixels

# Image formats `tf.io.decode_image` reads; the first bytes of each format.
FORMATS = "JPEG, PNG, GIF, BMP or WebP"
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"RIFF")


def resize_for_eval(image, image_size, resize_size=None):
    """Resize one decoded image ``[H, W, C]`` to ``float32 [size, size, C]`` (0-255).

    Args:
        image: a ``uint8`` or float image ``[H, W, C]``.
        image_size: output side in pixels (an int, or a square ``(h, w)``).
        resize_size: None resizes the whole image to ``image_size``; an int
            resizes the shorter side to it, then keeps the centre crop.
            Defaults to None.

    >>> image = tf.reshape(tf.range(16.0), [4, 4, 1])
    >>> resize_for_eval(image, 2)[..., 0].numpy().tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    return transforms.resize_image(image, _pair(image_size), resize_size)


def decode_images(images, image_size, resize_size=None, max_pixels=None):
    """Decode a batch of encoded images (tf.string ``[N]``) to ``float32 [N, h, w, 3]``.

    Grey images are repeated to RGB, alpha is dropped, an animated GIF gives
    its first frame. Empty or undecodable bytes, and images whose header
    declares more than ``max_pixels`` pixels, raise
    `tf.errors.InvalidArgumentError` naming the index of the bad image (TF
    Serving returns it as an ``INVALID_ARGUMENT`` error).

    Args:
        images: encoded images, tf.string ``[N]``.
        image_size: output size, an int or ``(height, width)``.
        resize_size: see `resize_for_eval`. Defaults to None.
        max_pixels: pixel limit (width × height) checked on the header;
            None takes ``$FGKERAS_MAX_IMAGE_PIXELS`` or 89,478,485 when the
            graph is built. Defaults to None.

    >>> png = tf.io.encode_png(tf.zeros([5, 7, 3], tf.uint8))
    >>> decode_images(tf.stack([png, png]), 4).shape
    TensorShape([2, 4, 4, 3])
    >>> decode_images(tf.stack([png, png]), 4, max_pixels=34)
    Traceback (most recent call last):
    ...
    tensorflow.python.framework.errors_impl.InvalidArgumentError: ...Invalid image: image[0]: \
image too large: its header declares 7x5 = 35 pixels, more than the limit of 34 (...
    """
    height, width = _pair(image_size)
    limit = max_image_pixels(max_pixels)
    images = tf.convert_to_tensor(images, tf.string)
    indices = tf.range(tf.shape(images)[0])

    def one(args):
        contents, index = args
        size = tf.strings.length(contents)
        name = tf.strings.format("image[{}]", index)
        check_empty = tf.debugging.Assert(
            size > 0, [tf.strings.join(["Invalid image: ", name, " is empty (0 bytes)."])]
        )
        known = tf.reduce_any([tf.strings.substr(contents, 0, len(m)) == m for m in _MAGIC])
        not_image = f" is not a {FORMATS} file (first bytes: "
        check_format = tf.debugging.Assert(
            tf.logical_or(size == 0, known),
            [tf.strings.join(["Invalid image: ", name, not_image, _printable(contents), ")."])],
        )
        with tf.control_dependencies([check_empty, check_format]):
            check_size = assert_size_tf(contents, limit, tf.strings.join(["Invalid image: ", name]))
        with tf.control_dependencies([check_size]):
            image = tf.io.decode_image(contents, channels=3, expand_animations=False)
        image = tf.ensure_shape(image, [None, None, 3])
        return resize_for_eval(image, (height, width), resize_size)

    return tf.map_fn(
        transforms.without_autograph(one),
        (images, indices),
        fn_output_signature=tf.TensorSpec([height, width, 3], tf.float32),
    )


def resize_pixels(pixels, image_size, resize_size=None):
    """Resize a batch of decoded 0-255 images ``[N, H, W, 3]`` like `decode_images`.

    A batch already at ``image_size`` (and ``resize_size=None``) comes back
    unchanged.

    >>> resize_pixels(tf.ones([2, 8, 6, 3]), 4).shape
    TensorShape([2, 4, 4, 3])
    """
    height, width = _pair(image_size)
    pixels = tf.cast(pixels, tf.float32)
    channels = pixels.shape[-1]

    def resize():
        return tf.map_fn(
            transforms.without_autograph(
                lambda image: resize_for_eval(image, (height, width), resize_size)
            ),
            pixels,
            fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32),
        )

    if resize_size is not None:
        return resize()
    shape = tf.shape(pixels)
    at_size = tf.logical_and(tf.equal(shape[1], height), tf.equal(shape[2], width))
    # At the input size the resize is the identity: skip its cost.
    out = tf.cond(at_size, lambda: pixels, resize)
    return tf.ensure_shape(out, [None, height, width, channels])


def _printable(contents):
    """The first 8 bytes with anything outside printable ASCII shown as '?'."""
    head = tf.strings.substr(contents, 0, 8)
    # Error messages must be valid UTF-8: replace invalid bytes first, then the rest.
    head = tf.strings.unicode_transcode(head, "UTF-8", "UTF-8", replacement_char=ord("?"))
    return tf.strings.regex_replace(head, "[^ -~]", "?")


def _pair(size):
    if isinstance(size, int):
        return size, size
    height, width = (int(s) for s in size)
    return height, width
