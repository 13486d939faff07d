"""Hard attention: look at one region of the image, at higher resolution.

The box maths (`crop_and_resize`, `boxcar_mask`, `attention_boxes`,
`drop_mask`) lives in `fgkeras.layers.cropping`; crops are differentiable in
the pixels and in the box coordinates.

- `AttentionCropZoom`: RA-CNN's attention proposal crop, a boxcar mask made
  of sigmoids (differentiable in the box) times the image, then zoomed.
  Fu, Zheng and Mei, "Look Closer to See Better", CVPR 2017
  (https://openaccess.thecvf.com/content_cvpr_2017/html/Fu_Look_Closer_to_CVPR_2017_paper.html).
- `TopRegionCrop`: a fixed-size crop centred on the attention peak
  (non-differentiable: the box is a stop-gradient).
- `AttentionGuidedCrop` / `AttentionGuidedDrop`: WS-DAN's attention
  cropping (box around the map above θ·max) and dropping (erase it).
  Hu, Qi, Huang and Lu, "See Better Before Looking Closer", 2019
  (https://arxiv.org/abs/1901.09891).
"""

import keras
from keras import ops

from fgkeras.layers.cropping import (
    _normalized_map,
    attention_boxes,
    boxcar_mask,
    center_half_to_boxes,
    crop_and_resize,
    drop_mask,
)

__all__ = [
    "AttentionCropZoom",
    "AttentionGuidedCrop",
    "AttentionGuidedDrop",
    "BoxcarMask",
    "TopRegionCrop",
    "attention_boxes",
    "boxcar_mask",
    "center_half_to_boxes",
    "crop_and_resize",
    "drop_mask",
]


def _check_size(output_size):
    size = tuple(output_size) if isinstance(output_size, (list, tuple)) else ()
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in size):
        raise ValueError(
            f"`output_size` must be (height, width) of positive ints. "
            f"Received: output_size={output_size!r}"
        )
    return [int(s) for s in size]


def _check_fraction(name, value, low=0.0, high=1.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"`{name}` must be in [{low}, {high}]. Received: {name}={value!r}")
    return float(value)


def _image_and_map(inputs, layer_name):
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise ValueError(
            f"{layer_name} is called on [images, attention_or_boxes]. Received: {inputs!r}"
        )
    return inputs


@keras.saving.register_keras_serializable(package="fgkeras")
class AttentionCropZoom(keras.layers.Layer):
    """RA-CNN attention proposal: boxcar-masked image region, zoomed (differentiable).

    Called on ``[images, params]`` with params (batch, 3) = (center_y,
    center_x, half_side), normalized; returns the square region, multiplied
    by a sigmoid boxcar mask (so the loss has a gradient in the box) and
    resized to ``output_size``. With ``return_mask=True`` it also returns
    the mask (batch, height, width, 1) as an attention map.
    https://openaccess.thecvf.com/content_cvpr_2017/html/Fu_Look_Closer_to_CVPR_2017_paper.html

    Args:
        output_size: (height, width) of the zoomed region.
        sharpness: k of the boxcar's sigmoids, per pixel. Defaults to 10.0.
        return_mask: also return the boxcar mask. Defaults to False.
        apply_mask: multiply the image by the mask before zooming; False
            when a `BoxcarMask` layer has already done it. Defaults to True.

    >>> import numpy as np
    >>> layer = AttentionCropZoom((8, 8))
    >>> tuple(layer([np.ones((2, 16, 16, 3), "float32"), np.full((2, 3), 0.5, "float32")]).shape)
    (2, 8, 8, 3)
    """

    def __init__(self, output_size, sharpness=10.0, return_mask=False, apply_mask=True, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _check_size(output_size)
        self.apply_mask = bool(apply_mask)
        if not sharpness > 0:
            raise ValueError(f"`sharpness` must be positive. Received: sharpness={sharpness}")
        self.sharpness = float(sharpness)
        self.return_mask = bool(return_mask)

    def call(self, inputs):
        images, params = _image_and_map(inputs, "AttentionCropZoom")
        images = ops.cast(images, self.compute_dtype)
        boxes = center_half_to_boxes(ops.cast(params, self.compute_dtype))
        mask = boxcar_mask(boxes, ops.shape(images)[1:3], self.sharpness)
        if self.apply_mask:
            images = images * ops.cast(mask, images.dtype)
        crops = crop_and_resize(images, boxes, self.output_size)
        return [crops, mask] if self.return_mask else crops

    def compute_output_shape(self, input_shape):
        image_shape = input_shape[0]
        crops = (image_shape[0], *self.output_size, image_shape[-1])
        return [crops, (*image_shape[:3], 1)] if self.return_mask else crops

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "sharpness": self.sharpness,
            "return_mask": self.return_mask,
            "apply_mask": self.apply_mask,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class BoxcarMask(keras.layers.Layer):
    """RA-CNN's boxcar attention mask of a square, as an image-sized map.

    Called on ``[images, params]`` (params (batch, 3) = center_y, center_x,
    half_side, normalized); returns (batch, height, width, 1), ≈1 inside
    the square and ≈0 outside, differentiable in the params. See
    `boxcar_mask`; `AttentionCropZoom` applies the same mask.

    Args:
        sharpness: k of the sigmoids, per pixel. Defaults to 10.0.

    >>> import numpy as np
    >>> mask = BoxcarMask()([np.ones((1, 8, 8, 3), "float32"), np.full((1, 3), 0.25, "float32")])
    >>> tuple(mask.shape)
    (1, 8, 8, 1)
    """

    def __init__(self, sharpness=10.0, **kwargs):
        super().__init__(**kwargs)
        if not sharpness > 0:
            raise ValueError(f"`sharpness` must be positive. Received: sharpness={sharpness}")
        self.sharpness = float(sharpness)

    def call(self, inputs):
        images, params = _image_and_map(inputs, "BoxcarMask")
        boxes = center_half_to_boxes(ops.cast(params, "float32"))
        mask = boxcar_mask(boxes, ops.shape(images)[1:3], self.sharpness)
        return ops.cast(mask, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:3], 1)

    def get_config(self):
        return {**super().get_config(), "sharpness": self.sharpness}


@keras.saving.register_keras_serializable(package="fgkeras")
class TopRegionCrop(keras.layers.Layer):
    """Crop a fixed-size square centred on the attention peak (no gradient to the map).

    Called on ``[images, attention]`` (attention (batch, h, w[, maps]),
    averaged over maps); the box of side ``crop_fraction`` is shifted to
    stay inside the image and resized to ``output_size``. The hard
    attention of Xu et al. (https://arxiv.org/abs/1502.03044) at image level.

    Args:
        output_size: (height, width) of the crop.
        crop_fraction: side of the square as a fraction of the image.
            Defaults to 0.5.

    >>> import numpy as np
    >>> a = np.zeros((1, 4, 4), "float32"); a[0, 0, 3] = 1.0
    >>> image = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> crop = TopRegionCrop((2, 2))([image, a])
    >>> np.asarray(crop)[0, :, :, 0].tolist()
    [[2.0, 3.0], [6.0, 7.0]]
    """

    def __init__(self, output_size, crop_fraction=0.5, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _check_size(output_size)
        self.crop_fraction = _check_fraction("crop_fraction", crop_fraction)
        if self.crop_fraction == 0.0:
            raise ValueError("`crop_fraction` must be positive. Received: crop_fraction=0.0")

    def call(self, inputs):
        images, attention = _image_and_map(inputs, "TopRegionCrop")
        images = ops.cast(images, self.compute_dtype)
        return crop_and_resize(images, self.boxes(attention), self.output_size)

    def boxes(self, attention):
        """The (batch, 4) boxes the layer crops for ``attention``."""
        a = ops.stop_gradient(_normalized_map(attention))
        height, width = a.shape[1] or ops.shape(a)[1], a.shape[2] or ops.shape(a)[2]
        peak = ops.argmax(ops.reshape(a, (ops.shape(a)[0], -1)), axis=-1)
        center_y = (ops.cast(peak // width, "float32") + 0.5) / height
        center_x = (ops.cast(peak % width, "float32") + 0.5) / width
        half = self.crop_fraction / 2.0
        center_y = ops.clip(center_y, half, 1.0 - half)
        center_x = ops.clip(center_x, half, 1.0 - half)
        return ops.stack(
            [center_y - half, center_x - half, center_y + half, center_x + half], axis=-1
        )

    def compute_output_shape(self, input_shape):
        image_shape = input_shape[0]
        return (image_shape[0], *self.output_size, image_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "crop_fraction": self.crop_fraction,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class AttentionGuidedCrop(keras.layers.Layer):
    """WS-DAN attention cropping: zoom into the box where attention ≥ θ·max.

    Called on ``[images, attention]``; see `attention_boxes`.
    https://arxiv.org/abs/1901.09891

    Args:
        output_size: (height, width) of the crop.
        threshold: θ, fraction of the map's maximum. Defaults to 0.5.
        padding: margin on each side, as a fraction of the image. Defaults to 0.1.

    >>> import numpy as np
    >>> layer = AttentionGuidedCrop((8, 8), threshold=0.1)
    >>> tuple(layer([np.ones((1, 16, 16, 3), "float32"), np.ones((1, 4, 4, 2), "float32")]).shape)
    (1, 8, 8, 3)
    """

    def __init__(self, output_size, threshold=0.5, padding=0.1, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _check_size(output_size)
        self.threshold = _check_fraction("threshold", threshold)
        self.padding = _check_fraction("padding", padding, high=0.5)

    def call(self, inputs):
        images, attention = _image_and_map(inputs, "AttentionGuidedCrop")
        boxes = attention_boxes(attention, self.threshold, self.padding)
        return crop_and_resize(ops.cast(images, self.compute_dtype), boxes, self.output_size)

    def compute_output_shape(self, input_shape):
        image_shape = input_shape[0]
        return (image_shape[0], *self.output_size, image_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "threshold": self.threshold,
            "padding": self.padding,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class AttentionGuidedDrop(keras.layers.Layer):
    """WS-DAN attention dropping: erase the pixels where attention ≥ θ·max.

    Called on ``[images, attention]``; see `drop_mask`.
    https://arxiv.org/abs/1901.09891

    Args:
        threshold: θ, fraction of the map's maximum. Defaults to 0.5.

    >>> import numpy as np
    >>> a = np.zeros((1, 2, 2), "float32"); a[0, 1, 1] = 1.0
    >>> out = AttentionGuidedDrop()([np.ones((1, 2, 2, 1), "float32"), a])
    >>> np.asarray(out)[0, :, :, 0].tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """

    def __init__(self, threshold=0.5, **kwargs):
        super().__init__(**kwargs)
        self.threshold = _check_fraction("threshold", threshold)

    def call(self, inputs):
        images, attention = _image_and_map(inputs, "AttentionGuidedDrop")
        images = ops.cast(images, self.compute_dtype)
        keep = drop_mask(attention, ops.shape(images)[1:3], self.threshold)
        return images * ops.cast(keep, images.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}
