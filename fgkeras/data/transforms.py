"""tf.data transforms: decode, crop-and-resize (with boxes), MixUp/CutMix.

Every function works eagerly and inside ``Dataset.map`` (graph mode). The
per-example functions take and return one example dict (see
:mod:`fgkeras.data.base`); boxes and keypoints follow the pixels. They branch
on tensors only through ``tf.cond``/``tf.where``, so the functions that call
them can skip AutoGraph (`without_autograph`).
"""

from __future__ import annotations

import tensorflow as tf

from fgkeras.data.files import decode_with_pil
from fgkeras.data.image_header import assert_size_tf, max_image_pixels


def without_autograph(fn):
    """``fn``, marked for AutoGraph to leave as it is, for `Dataset.map` or `tf.map_fn`.

    Both rewrite the function they run with AutoGraph, and with it every
    function it calls; for these transforms and the image-header checks that
    rewrite is pure cost (it dominated the tracing of a `load` and of an
    export), as they hold no Python control flow on tensors.

    >>> double = without_autograph(lambda x: x * 2)
    >>> int(tf.data.Dataset.from_tensors(3).map(double).get_single_element())
    6
    """
    return tf.autograph.experimental.do_not_convert(fn)


def decode(example, channels=3, max_pixels=None, header_checked=False):
    """Decode ``example``'s ``path``/``encoded``/``image`` to ``uint8 [H, W, channels]``.

    Grey images are repeated to 3 channels (``channels=3``), colour images are
    turned grey with ``channels=1``; alpha is dropped; 16-bit PNGs are scaled
    to 8 bits. Encoded images whose header declares more than ``max_pixels``
    pixels are refused before decoding (`tf.errors.InvalidArgumentError`
    naming the path and both numbers; see `fgkeras.data.image_header`).

    Args:
        example: a dict with ``path`` (and optionally ``decoder``: 0 =
            TensorFlow, 1 = PIL), ``encoded`` (file bytes) or ``image``.
        channels: 3 or 1. Defaults to 3.
        max_pixels: pixel limit; None takes ``$FGKERAS_MAX_IMAGE_PIXELS`` or
            89,478,485. Defaults to None.
        header_checked: the file's header size was already checked (the
            up-front `check_image_files` pass of file sources), so the
            in-graph check, redundant then and measurably slower, is skipped
            for ``path`` examples. Defaults to False.

    >>> png = tf.io.encode_png(tf.fill([2, 3, 1], tf.constant(7, tf.uint8)))
    >>> decode({"encoded": png, "label": 0})["image"].shape
    TensorShape([2, 3, 3])
    >>> decode({"encoded": png}, max_pixels=5)
    Traceback (most recent call last):
    ...
    tensorflow.python.framework.errors_impl.InvalidArgumentError: ...image: image too large: \
its header declares 3x2 = 6 pixels, more than the limit of 5 (...
    """
    example = dict(example)
    if "image" in example:
        image = tf.convert_to_tensor(example["image"])
        if image.shape.rank == 2:
            image = image[..., None]
        if image.shape[-1] == 1 and channels == 3:
            image = tf.repeat(image, 3, axis=-1)
        elif image.shape[-1] in (3, 4) and channels == 1:
            image = tf.cast(tf.round(tf.image.rgb_to_grayscale(image[..., :3])), tf.uint8)
        elif image.shape[-1] == 4:
            image = image[..., :3]
    else:
        limit = max_image_pixels(max_pixels)
        if "encoded" in example:
            contents = example.pop("encoded")
            name = "image"
        else:
            contents = tf.io.read_file(example["path"])
            name = example["path"]

        skip_check = header_checked and "path" in example
        checks = [] if skip_check else [assert_size_tf(contents, limit, name)]

        def with_tf():
            # Refuse decompression bombs from the header, before anything is allocated.
            with tf.control_dependencies(checks):
                # decode_jpeg is about twice as fast as the format-sniffing decode_image.
                return tf.cond(
                    tf.equal(tf.strings.substr(contents, 0, 2), b"\xff\xd8"),
                    lambda: tf.io.decode_jpeg(contents, channels=channels),
                    lambda: tf.io.decode_image(
                        contents, channels=channels, expand_animations=False
                    ),
                )

        if "decoder" in example and "path" in example:
            path = example["path"]

            def with_pil():
                out = tf.numpy_function(decode_with_pil, [path, channels, limit], tf.uint8)
                return tf.reshape(out, [tf.shape(out)[0], tf.shape(out)[1], channels])

            image = tf.cond(tf.equal(example.pop("decoder"), 1), with_pil, with_tf)
        else:
            image = with_tf()
        example.pop("path", None)
    image = tf.ensure_shape(image, [None, None, channels])
    example["image"] = image
    return example


def order_boxes(boxes):
    """Return boxes ``[..., 4]`` with ``ymin <= ymax`` and ``xmin <= xmax``, clipped to [0, 1].

    >>> order_boxes(tf.constant([0.8, 0.1, 0.2, 1.5])).numpy().tolist()
    [0.20000000298023224, 0.10000000149011612, 0.800000011920929, 1.0]
    """
    boxes = tf.clip_by_value(tf.cast(boxes, tf.float32), 0.0, 1.0)
    y0, x0, y1, x1 = tf.unstack(boxes, axis=-1)
    return tf.stack(
        [tf.minimum(y0, y1), tf.minimum(x0, x1), tf.maximum(y0, y1), tf.maximum(x0, x1)], -1
    )


def reframe(example, window):
    """Express ``example``'s boxes/keypoints in the frame of ``window`` (normalized box).

    Coordinates outside the window are clipped to its edge; keypoints outside
    it become invisible.

    >>> ex = {"bbox": tf.constant([0.5, 0.5, 1.0, 1.0])}
    >>> reframe(ex, tf.constant([0.5, 0.0, 1.0, 0.5]))["bbox"].numpy().tolist()
    [0.0, 1.0, 1.0, 1.0]
    """
    example = dict(example)
    window = tf.cast(window, tf.float32)
    offset = tf.stack([window[0], window[1], window[0], window[1]])
    scale = tf.stack([window[2] - window[0], window[3] - window[1]] * 2)
    scale = tf.maximum(scale, 1e-6)
    for key in ("bbox", "part_bbox"):
        if key in example:
            example[key] = tf.clip_by_value((order_boxes(example[key]) - offset) / scale, 0.0, 1.0)
    if "parts" in example:
        parts = tf.cast(example["parts"], tf.float32)
        yx = (parts[..., :2] - offset[:2]) / scale[:2]
        inside = tf.reduce_all((yx >= 0.0) & (yx <= 1.0), axis=-1)
        visible = parts[..., 2] * tf.cast(inside, tf.float32)
        example["parts"] = tf.concat([tf.clip_by_value(yx, 0.0, 1.0), visible[..., None]], -1)
    return example


def crop_window(shape, image_size, resize_size=None, crop="center", seed=None, bbox=None):
    """Normalized window ``[ymin, xmin, ymax, xmax]`` of the image to keep.

    With ``bbox``, the window starts as that box (bounding-box crop). Then,
    with ``resize_size`` None the whole window is kept (it will be resized to
    ``image_size``); otherwise the window is the ``image_size`` crop of the
    window resized so its shorter side is ``resize_size`` (centre crop, or a
    random one drawn with the stateless ``seed``).

    >>> crop_window(tf.constant([100, 200]), 50, resize_size=100).numpy().tolist()
    [0.25, 0.375, 0.75, 0.625]
    """
    hw = tf.cast(shape[:2], tf.float32)
    base = tf.constant([0.0, 0.0, 1.0, 1.0]) if bbox is None else order_boxes(bbox)
    if resize_size is None:
        return base
    base_hw = (base[2:] - base[:2]) * hw  # window size in pixels
    # Size of the crop in source pixels: image_size output pixels at scale resize/shorter.
    crop_px = tf.minimum(base_hw, image_size * tf.reduce_min(base_hw) / float(resize_size))
    room = base_hw - crop_px
    if crop == "random":
        frac = tf.random.stateless_uniform([2], seed=seed)
    else:
        frac = tf.constant([0.5, 0.5])
    start = base[:2] + room * frac / hw
    return tf.concat([start, start + crop_px / hw], axis=0)


def pixel_window(shape, window):
    """Round a normalized window to whole pixels (at least 1); returns (ints, normalized).

    >>> ints, norm = pixel_window(tf.constant([10, 20]), tf.constant([0.12, 0.0, 0.5, 1.0]))
    >>> ints.numpy().tolist(), norm.numpy().tolist()
    ([1, 0, 5, 20], [0.10000000149011612, 0.0, 0.5, 1.0])
    """
    hw = tf.cast(shape[:2], tf.float32)
    hw2 = tf.concat([hw, hw], 0)
    ints = tf.cast(tf.round(tf.cast(window, tf.float32) * hw2), tf.int32)
    size = tf.cast(shape[:2], tf.int32)
    start = tf.clip_by_value(ints[:2], 0, size - 1)
    stop = tf.clip_by_value(tf.maximum(ints[2:], start + 1), 1, size)
    ints = tf.concat([start, stop], 0)
    return ints, tf.cast(ints, tf.float32) / hw2


def crop_and_resize(image, window, image_size):
    """Crop ``window`` (rounded to whole pixels) out of ``image``; resize to ``image_size``.

    Bilinear ``tf.image.resize`` (half-pixel centres) on the cropped pixels; float32 out.

    >>> img = tf.reshape(tf.range(16.0), [4, 4, 1])
    >>> crop_and_resize(img, tf.constant([0.0, 0.0, 0.5, 0.5]), 2)[..., 0].numpy().tolist()
    [[0.0, 1.0], [4.0, 5.0]]
    """
    ints, _ = pixel_window(tf.shape(image), window)
    crop = image[ints[0] : ints[2], ints[1] : ints[3]]
    return tf.image.resize(crop, [image_size, image_size])


def resize_image(image, image_size, resize_size=None):
    """Resize one decoded image ``[H, W, C]`` as the evaluation pipeline does; float32 out.

    The one resize of predict, explain and the exported signatures. With
    ``resize_size`` None the whole image is resized to ``image_size``
    (bilinear, half-pixel centres, no antialiasing); with an int, its shorter
    side is resized to ``resize_size`` and the centre ``image_size`` crop is
    kept (`crop_window` + `crop_and_resize`, as `resize_example`).

    Args:
        image: a ``uint8`` or float image ``[H, W, C]`` (0-255).
        image_size: output side (an int), or ``(height, width)``; a
            non-square size allows only ``resize_size=None``.
        resize_size: shorter side before the centre crop, or None. Defaults to None.

    >>> img = tf.reshape(tf.range(16.0), [4, 4, 1])
    >>> resize_image(img, 2)[..., 0].numpy().tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    >>> resize_image(img, (2, 4)).shape
    TensorShape([2, 4, 1])
    """
    if isinstance(image_size, int):
        height = width = image_size
    else:
        height, width = (int(side) for side in image_size)
    if height != width:
        if resize_size is not None:
            raise ValueError(
                "A centre crop (resize_size) needs a square input size. "
                f"Received: image_size={image_size!r}, resize_size={resize_size!r}"
            )
        image = tf.cast(image, tf.float32)
        return tf.image.resize(image, (height, width), "bilinear", antialias=False)
    window = crop_window(tf.shape(image), height, resize_size, "center")
    return crop_and_resize(image, window, height)


def resize_example(
    example, image_size, resize_size=None, crop="center", seed=None, bbox_crop=False
):
    """Crop (optionally to the object box, then centre/random) and resize one example.

    Returns the example with ``image`` as ``float32 [image_size, image_size, C]``
    (0-255) and its boxes/keypoints moved into the new frame.

    >>> ex = {"image": tf.zeros([40, 80, 3], tf.uint8), "bbox": tf.constant([0.0, 0.0, 0.5, 0.5])}
    >>> out = resize_example(ex, 20, resize_size=40)
    >>> out["image"].shape, out["bbox"].numpy().tolist()
    (TensorShape([20, 20, 3]), [0.0, 0.0, 0.5, 0.5])
    """
    if bbox_crop and "bbox" not in example:
        raise ValueError("bbox_crop=True needs a source with object boxes ('bbox').")
    bbox = example["bbox"] if bbox_crop else None
    shape = tf.shape(example["image"])
    window = crop_window(shape, image_size, resize_size, crop, seed, bbox)
    _, window = pixel_window(shape, window)  # boxes follow the exact pixels kept
    example = reframe(example, window)
    example["image"] = crop_and_resize(example["image"], window, image_size)
    return example


def mix_batch(images, labels, num_classes, mode="mixup", seed=(0, 0), alpha=None):
    """MixUp / CutMix a batch with its roll by one; labels become one-hot float32.

    Args:
        images: ``float32 [B, H, W, C]``.
        labels: int labels ``[B]``.
        num_classes: number of classes.
        mode: ``"mixup"``, ``"cutmix"`` or ``"mixup_cutmix"`` (one of the two
            per batch, with even odds). Defaults to ``"mixup"``.
        seed: stateless seed (two integers). Defaults to ``(0, 0)``.
        alpha: Beta concentration; defaults to 0.2 (MixUp) and 1.0 (CutMix).

    >>> x = tf.stack([tf.zeros([4, 4, 3]), tf.fill([4, 4, 3], 255.0)])
    >>> _, y = mix_batch(x, tf.constant([0, 1]), 2, "cutmix", seed=(1, 2))
    >>> y.numpy().sum(axis=1).tolist()
    [1.0, 1.0]
    """
    if mode not in ("mixup", "cutmix", "mixup_cutmix"):
        raise ValueError(
            f"mixing must be None, 'mixup', 'cutmix' or 'mixup_cutmix'. Received: {mode!r}"
        )
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    images = tf.cast(images, tf.float32)
    onehot = tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)
    other_x, other_y = tf.roll(images, 1, axis=0), tf.roll(onehot, 1, axis=0)
    batch = tf.shape(images)[0]

    def beta(a, s):
        g1 = tf.random.stateless_gamma([batch], seed=s, alpha=a)
        g2 = tf.random.stateless_gamma([batch], seed=s + 1, alpha=a)
        return g1 / tf.maximum(g1 + g2, 1e-12)

    def mixup():
        lam = beta(alpha or 0.2, seed)
        lx = lam[:, None, None, None]
        return lx * images + (1 - lx) * other_x, lam[:, None] * onehot + (
            1 - lam[:, None]
        ) * other_y

    def cutmix():
        lam = beta(alpha or 1.0, seed + 2)
        h, w = tf.shape(images)[1], tf.shape(images)[2]
        hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
        cut = tf.sqrt(1.0 - lam)
        centre = tf.random.stateless_uniform([batch, 2], seed=seed + 4)
        y0 = tf.clip_by_value(centre[:, 0] - cut / 2, 0.0, 1.0) * hf
        y1 = tf.clip_by_value(centre[:, 0] + cut / 2, 0.0, 1.0) * hf
        x0 = tf.clip_by_value(centre[:, 1] - cut / 2, 0.0, 1.0) * wf
        x1 = tf.clip_by_value(centre[:, 1] + cut / 2, 0.0, 1.0) * wf
        ys = tf.cast(tf.range(h), tf.float32)[None, :, None] + 0.5
        xs = tf.cast(tf.range(w), tf.float32)[None, None, :] + 0.5
        inside = (
            (ys >= y0[:, None, None])
            & (ys < y1[:, None, None])
            & (xs >= x0[:, None, None])
            & (xs < x1[:, None, None])
        )
        mask = tf.cast(inside, tf.float32)[..., None]
        kept = 1.0 - tf.reduce_mean(mask, axis=[1, 2, 3])  # actual share of the own image
        return (1 - mask) * images + mask * other_x, (
            kept[:, None] * onehot + (1 - kept[:, None]) * other_y
        )

    if mode == "mixup":
        return mixup()
    if mode == "cutmix":
        return cutmix()
    use_mixup = tf.random.stateless_uniform([], seed=seed + 6) < 0.5
    return tf.cond(use_mixup, mixup, cutmix)
