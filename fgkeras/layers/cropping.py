"""Differentiable cropping maths for hard attention, in `keras.ops` only.

Boxes are normalized ``(y0, x0, y1, x1)`` in [0, 1] (as in
`tf.image.crop_and_resize`). `crop_and_resize` samples them bilinearly with
two interpolation matrices, one per axis (out = R · image · Cᵀ with
R_ij = max(0, 1 - |y_i - j|)), so it is differentiable in the pixels *and*
in the box coordinates. The other helpers turn attention maps into boxes
(WS-DAN cropping) or erase masks (WS-DAN dropping), and RA-CNN box
parameters into a boxcar mask.
"""

from keras import ops


def _interpolation_matrix(start, end, out_size, in_size):
    """(batch, out_size, in_size) bilinear weights sampling [start, end) of an axis."""
    centers = (ops.arange(out_size, dtype=start.dtype) + 0.5) / out_size
    coords = (start[:, None] + centers[None, :] * (end - start)[:, None]) * ops.cast(
        in_size, start.dtype
    ) - 0.5
    coords = ops.clip(coords, 0.0, ops.cast(in_size, start.dtype) - 1.0)
    grid = ops.arange(in_size, dtype=start.dtype)
    return ops.relu(1.0 - ops.abs(coords[:, :, None] - grid[None, None, :]))


def crop_and_resize(images, boxes, output_size):
    """Bilinearly sample each image's box to ``output_size`` (edges clamped).

    Args:
        images: (batch, height, width, channels).
        boxes: (batch, 4) normalized (y0, x0, y1, x1).
        output_size: (height, width) of the crops.

    >>> import numpy as np
    >>> image = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> crop = crop_and_resize(image, np.array([[0.0, 0.0, 0.5, 0.5]], "float32"), (2, 2))
    >>> np.asarray(crop)[0, :, :, 0].tolist()
    [[0.0, 1.0], [4.0, 5.0]]
    """
    images = ops.convert_to_tensor(images)
    boxes = ops.cast(boxes, images.dtype)
    shape = ops.shape(images)
    rows = _interpolation_matrix(boxes[:, 0], boxes[:, 2], output_size[0], shape[1])
    cols = _interpolation_matrix(boxes[:, 1], boxes[:, 3], output_size[1], shape[2])
    out = ops.einsum("bij,bjwc->biwc", rows, images)
    return ops.einsum("bkw,biwc->bikc", cols, out)


def boxcar_mask(boxes, size, sharpness=10.0):
    """RA-CNN's mask: [h(x-x0)-h(x-x1)]·[h(y-y0)-h(y-y1)], h = sigmoid(k·), in pixels.

    Args:
        boxes: (batch, 4) normalized (y0, x0, y1, x1).
        size: (height, width) of the mask.
        sharpness: k of the sigmoid, per pixel. Defaults to 10.0.

    >>> import numpy as np
    >>> m = boxcar_mask(np.array([[0.25, 0.25, 0.75, 0.75]], "float32"), (4, 4))
    >>> np.asarray(m, "float64")[0, :, :, 0].round(1).tolist()[1]
    [0.0, 1.0, 1.0, 0.0]
    """
    boxes = ops.cast(boxes, "float32")

    def axis(start, end, length):
        pixels = ops.arange(length, dtype="float32") + 0.5
        start, end = start[:, None] * length, end[:, None] * length
        return ops.sigmoid(sharpness * (pixels - start)) - ops.sigmoid(sharpness * (pixels - end))

    rows = axis(boxes[:, 0], boxes[:, 2], size[0])
    cols = axis(boxes[:, 1], boxes[:, 3], size[1])
    return (rows[:, :, None] * cols[:, None, :])[..., None]


def center_half_to_boxes(params):
    """(center_y, center_x, half_side) rows to (y0, x0, y1, x1) boxes.

    >>> import numpy as np
    >>> np.asarray(center_half_to_boxes(np.array([[0.5, 0.5, 0.25]], "float32"))).tolist()
    [[0.25, 0.25, 0.75, 0.75]]
    """
    params = ops.convert_to_tensor(params)
    center_y, center_x, half = params[:, 0], params[:, 1], params[:, 2]
    return ops.stack([center_y - half, center_x - half, center_y + half, center_x + half], -1)


def _normalized_map(attention):
    """Mean over maps, divided by its per-example maximum: (batch, h, w) in [0, 1]."""
    attention = ops.convert_to_tensor(attention)
    if len(attention.shape) == 4:
        attention = ops.mean(attention, axis=-1)
    peak = ops.max(attention, axis=(1, 2), keepdims=True)
    return attention / ops.maximum(peak, 1e-12)


def attention_boxes(attention, threshold=0.5, padding=0.1):
    """Boxes around the cells where the (mean) attention map is ≥ threshold·max.

    Args:
        attention: (batch, h, w) or (batch, h, w, maps), non-negative.
        threshold: fraction of the maximum; a float or a (batch,) tensor.
            Defaults to 0.5.
        padding: margin added on each side, as a fraction of the image.
            Defaults to 0.1.

    An all-zero map gives the whole image, (0, 0, 1, 1).

    >>> import numpy as np
    >>> a = np.zeros((1, 4, 4), "float32"); a[0, 1, 2] = 1.0
    >>> np.asarray(attention_boxes(a, padding=0.0)).tolist()
    [[0.25, 0.5, 0.5, 0.75]]
    """
    a = ops.stop_gradient(_normalized_map(attention))
    threshold = ops.reshape(ops.cast(threshold, a.dtype), (-1, 1, 1))
    inside = ops.greater_equal(a, threshold)

    def span(any_axis, length):
        hit = ops.any(inside, axis=any_axis)
        index = ops.arange(length, dtype="float32")
        low = ops.min(ops.where(hit, index, float(length)), axis=1) / length
        high = (ops.max(ops.where(hit, index, -1.0), axis=1) + 1.0) / length
        return ops.maximum(low - padding, 0.0), ops.minimum(high + padding, 1.0)

    y0, y1 = span(2, a.shape[1] or ops.shape(a)[1])
    x0, x1 = span(1, a.shape[2] or ops.shape(a)[2])
    boxes = ops.stack([y0, x0, y1, x1], axis=-1)
    # An all-zero map selects nothing: keep the whole image rather than an empty box.
    found = ops.any(inside, axis=(1, 2))[:, None]
    return ops.where(found, boxes, ops.convert_to_tensor([[0.0, 0.0, 1.0, 1.0]], boxes.dtype))


def drop_mask(attention, size, threshold=0.5):
    """1 where the upsampled (mean) attention is below threshold·max, else 0.

    Args:
        attention: (batch, h, w) or (batch, h, w, maps).
        size: (height, width) of the image to mask.
        threshold: a float or a (batch,) tensor. Defaults to 0.5.

    >>> import numpy as np
    >>> a = np.zeros((1, 2, 2), "float32"); a[0, 0, 0] = 1.0
    >>> np.asarray(drop_mask(a, (2, 2)))[0, :, :, 0].tolist()
    [[0.0, 1.0], [1.0, 1.0]]
    """
    a = ops.stop_gradient(_normalized_map(attention))[..., None]
    a = ops.image.resize(a, tuple(size), interpolation="bilinear")
    threshold = ops.reshape(ops.cast(threshold, a.dtype), (-1, 1, 1, 1))
    return ops.cast(ops.less(a, threshold), a.dtype)
