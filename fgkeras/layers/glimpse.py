"""Glimpses: multi-resolution square crops at a location, for recurrent hard attention.

Mnih et al., "Recurrent Models of Visual Attention", NeurIPS 2014
(https://arxiv.org/abs/1406.6247); Ba et al., "Multiple Object Recognition
with Visual Attention", ICLR 2015 (https://arxiv.org/abs/1412.7755);
Sermanet et al., "Attention for Fine-Grained Categorization", ICLR 2015
workshop (https://arxiv.org/abs/1412.7054).

A location l = (y, x) in [-1, 1]² places the centre of the *base* square,
of side ``glimpse_size`` (a fraction of the image), so that the base square
stays inside the image: centre = 0.5 + l · (0.5 − glimpse_size / 2), and
l = ±1 puts it against an edge. Scale s (0, 1, ...) is the square of side
``glimpse_size · 2^s`` around the same centre; parts of the larger squares
that fall outside the image repeat the edge pixels. Every square is resized
to the same ``output_size`` by `fgkeras.layers.cropping.crop_and_resize`
(bilinear, spatial-transformer style), so the crops are differentiable in
the pixels *and* in the location.

- `GlimpseSensor`: [images, locations] → crops (batch, scales, h, w, channels).
- `GlimpseBoxes`: the base squares of a list of locations, (batch, steps, 4),
  normalized [ymin, xmin, ymax, xmax]: where a recurrent model looked.
- `Passthrough`: returns its first input; the others only keep the layers
  that computed them in a functional graph (so they can be fetched by name).
"""

import numbers

import keras
from keras import ops

from fgkeras.checks import check_int
from fgkeras.layers.cropping import crop_and_resize

__all__ = [
    "GlimpseBoxes",
    "GlimpseSensor",
    "Passthrough",
    "extract_glimpses",
    "glimpse_boxes",
    "glimpse_centers",
]


def glimpse_centers(locations, glimpse_size=0.25):
    """Normalized centres (y, x) in [0, 1] of glimpses at ``locations`` in [-1, 1].

    The base square of side ``glimpse_size`` stays inside the image.

    >>> import numpy as np
    >>> np.asarray(glimpse_centers(np.array([[-1.0, 0.0]], "float32"), 0.5)).tolist()
    [[0.25, 0.5]]
    """
    locations = ops.convert_to_tensor(locations)
    return 0.5 + locations * (0.5 - glimpse_size / 2.0)


def glimpse_boxes(locations, glimpse_size=0.25, scales=1):
    """Boxes (batch, scales, 4) [ymin, xmin, ymax, xmax] of the glimpse squares.

    Args:
        locations: (batch, 2) locations (y, x) in [-1, 1].
        glimpse_size: side of the base square, a fraction of the image.
            Defaults to 0.25.
        scales: number of squares, each twice the side of the previous.
            Defaults to 1.

    >>> import numpy as np
    >>> np.asarray(glimpse_boxes(np.zeros((1, 2), "float32"), 0.25, 2)).tolist()
    [[[0.375, 0.375, 0.625, 0.625], [0.25, 0.25, 0.75, 0.75]]]
    """
    centers = glimpse_centers(locations, glimpse_size)
    boxes = []
    for scale in range(scales):
        half = glimpse_size * 2.0**scale / 2.0
        boxes.append(ops.concatenate([centers - half, centers + half], axis=-1))
    return ops.stack(boxes, axis=1)


def extract_glimpses(images, locations, output_size, scales=2, glimpse_size=0.25):
    """Crops (batch, scales, height, width, channels) of the glimpse squares.

    Args:
        images: (batch, H, W, channels).
        locations: (batch, 2) locations (y, x) in [-1, 1].
        output_size: (height, width) of every crop.
        scales: number of squares. Defaults to 2.
        glimpse_size: side of the base square. Defaults to 0.25.

    >>> import numpy as np
    >>> image = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> crops = extract_glimpses(image, np.array([[-1.0, -1.0]], "float32"), (2, 2), 1, 0.5)
    >>> np.asarray(crops)[0, 0, :, :, 0].tolist()
    [[0.0, 1.0], [4.0, 5.0]]
    """
    images = ops.convert_to_tensor(images)
    boxes = glimpse_boxes(ops.cast(locations, images.dtype), glimpse_size, scales)
    crops = [crop_and_resize(images, boxes[:, s], output_size) for s in range(scales)]
    return ops.stack(crops, axis=1)


def _check_glimpse_size(glimpse_size):
    if (
        isinstance(glimpse_size, bool)
        or not isinstance(glimpse_size, numbers.Real)
        or not 0.0 < glimpse_size <= 1.0
    ):
        raise ValueError(
            "`glimpse_size` must be in (0, 1], the base square's side as a fraction of the "
            f"image. Received: glimpse_size={glimpse_size!r}"
        )
    return float(glimpse_size)


def _check_output_size(output_size):
    size = tuple(output_size) if isinstance(output_size, (list, tuple)) else ()
    if len(size) != 2 or any(
        isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in size
    ):
        raise ValueError(
            f"`output_size` must be (height, width) of positive ints. "
            f"Received: output_size={output_size!r}"
        )
    return [int(s) for s in size]


@keras.saving.register_keras_serializable(package="fgkeras")
class GlimpseSensor(keras.layers.Layer):
    """Multi-resolution glimpse: ``scales`` squares around a location, resized alike.

    Called on ``[images, locations]`` (locations (batch, 2), (y, x) in
    [-1, 1], see the module docstring); returns (batch, scales, height,
    width, channels), scale 0 the base square of side ``glimpse_size``,
    each next one twice as large, all sampled bilinearly to
    ``output_size``. Differentiable in the images and in the locations
    (a spatial transformer), so a loss can train the network that chose
    the location. Mnih et al. 2014 (https://arxiv.org/abs/1406.6247).

    Args:
        output_size: (height, width) of every crop.
        scales: number of squares. Defaults to 2.
        glimpse_size: side of the base square, a fraction of the image.
            Defaults to 0.25.

    >>> import numpy as np
    >>> sensor = GlimpseSensor((8, 8), scales=2)
    >>> tuple(sensor([np.ones((2, 32, 32, 3), "float32"), np.zeros((2, 2), "float32")]).shape)
    (2, 2, 8, 8, 3)
    """

    def __init__(self, output_size, scales=2, glimpse_size=0.25, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _check_output_size(output_size)
        self.scales = check_int("scales", scales)
        self.glimpse_size = _check_glimpse_size(glimpse_size)

    def call(self, inputs):
        images, locations = _pair(inputs, "GlimpseSensor", "[images, locations]")
        images = ops.cast(images, self.compute_dtype)
        return extract_glimpses(images, locations, self.output_size, self.scales, self.glimpse_size)

    def boxes(self, locations):
        """The (batch, scales, 4) squares the layer crops at ``locations``."""
        return glimpse_boxes(ops.cast(locations, "float32"), self.glimpse_size, self.scales)

    def compute_output_shape(self, input_shape):
        image_shape = input_shape[0]
        return (image_shape[0], self.scales, *self.output_size, image_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "scales": self.scales,
            "glimpse_size": self.glimpse_size,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class GlimpseBoxes(keras.layers.Layer):
    """The base squares of a sequence of glimpses: (batch, steps, 4) boxes.

    Called on a list of ``steps`` location tensors (batch, 2), (y, x) in
    [-1, 1]; returns normalized [ymin, xmin, ymax, xmax] boxes, inside
    [0, 1], of side ``glimpse_size`` (see `GlimpseSensor`). No weights and
    no gradient: the boxes are an output for explanations.

    Args:
        glimpse_size: side of the base square. Defaults to 0.25.

    >>> import numpy as np
    >>> boxes = GlimpseBoxes(0.5)([np.zeros((1, 2), "float32"), np.ones((1, 2), "float32")])
    >>> np.asarray(boxes).tolist()
    [[[0.25, 0.25, 0.75, 0.75], [0.5, 0.5, 1.0, 1.0]]]
    """

    def __init__(self, glimpse_size=0.25, **kwargs):
        super().__init__(**kwargs)
        self.glimpse_size = _check_glimpse_size(glimpse_size)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise ValueError(
                f"GlimpseBoxes is called on a list of (batch, 2) locations. Received: {inputs!r}"
            )
        locations = ops.stop_gradient(ops.stack([ops.cast(x, "float32") for x in inputs], 1))
        half = self.glimpse_size / 2.0
        centers = glimpse_centers(locations, self.glimpse_size)
        boxes = ops.concatenate([centers - half, centers + half], axis=-1)
        return ops.cast(ops.clip(boxes, 0.0, 1.0), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape), 4)

    def get_config(self):
        return {**super().get_config(), "glimpse_size": self.glimpse_size}


@keras.saving.register_keras_serializable(package="fgkeras")
class Passthrough(keras.layers.Layer):
    """Return the first input unchanged; the others ride along in the graph.

    A functional model keeps only the layers its output depends on. Calling
    ``Passthrough()([x, extra, ...])`` makes the output depend on ``extra``
    (with no effect on the values), so a layer computed for explanations,
    such as `GlimpseBoxes`, stays in the model and can be fetched by name.

    >>> import numpy as np
    >>> np.asarray(Passthrough()([np.ones((1, 2), "float32"), np.zeros((1, 3, 4))])).tolist()
    [[1.0, 1.0]]
    """

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise ValueError(f"Passthrough is called on a list of inputs. Received: {inputs!r}")
        return inputs[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


def _pair(inputs, layer_name, expected):
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise ValueError(f"{layer_name} is called on {expected}. Received: {inputs!r}")
    return inputs
