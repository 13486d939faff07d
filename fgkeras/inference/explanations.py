"""Where did the model look? Grad-CAM for any model, and the model's own attention maps.

- `grad_cam`: Selvaraju et al., "Grad-CAM: Visual Explanations from Deep
  Networks via Gradient-based Localization", ICCV 2017
  (https://arxiv.org/abs/1610.02391). It needs only the zoo's named layers:
  the gradient of a class logit with respect to "feature_map", averaged
  over locations, weighs the feature channels. For models whose inference
  runs more than one pass (WS-DAN's crop-and-refine), it explains the
  first, whole-image pass: the model's functional graph.
- `attention_maps`: the maps the model itself computes, fetched by layer
  name ("attention_maps", "attention_maps_2", ...), e.g. WS-DAN's part
  maps, MA-CNN's channel groups, RA-CNN's zoom masks, two_stage's CAM.
- `glimpse_maps`: the boxes a glimpse model looked at (its "glimpse_boxes"
  layer, e.g. recurrent_glimpse), drawn as a map that counts the glimpses
  covering each pixel.
- `save_overlay` and `explain` draw them over the images as PNG files.
- `peak_in_boxes` / `points_in_boxes`: whether each map's peak (or any
  point) falls inside given boxes, the localization score of
  `benchmarks/attention_localization.py`.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from fgkeras.models.common import with_side_inputs

ATTENTION_PREFIX = "attention_maps"


def _logit_model(model: keras.Model, layer_name: str) -> keras.Model:
    try:
        layer = model.get_layer(layer_name)
    except ValueError as error:
        raise ValueError(
            f"Model {model.name!r} has no layer named {layer_name!r}; Grad-CAM needs the "
            f"convolutional map it explains. Received: feature_layer={layer_name!r}"
        ) from error
    return keras.Model(model.inputs, [layer.output, model.output])


def grad_cam(model, images, class_index=None, feature_layer="feature_map", side=None) -> np.ndarray:
    """Grad-CAM heatmaps (batch, h, w) in [0, 1] on the model's "feature_map".

    Args:
        model: a model of the zoo (or any model with a ``feature_layer``).
        images: (batch, height, width, channels) raw pixels as the model takes them.
        class_index: the class to explain: None (each image's top class), an
            int, or one int per image. Defaults to None.
        feature_layer: name of the convolutional layer. Defaults to "feature_map".
        side: a side-input model's side vector (see
            `fgkeras.models.common.with_side_inputs`); None: unknown.
            Defaults to None.

    >>> import fgkeras
    >>> model = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                       input_shape=(32, 32, 3))
    >>> grad_cam(model, np.full((2, 32, 32, 3), 100.0, "float32")).shape
    (2, 8, 8)
    """
    probe = _logit_model(model, feature_layer)
    images = tf.convert_to_tensor(np.asarray(images, "float32"))
    with tf.GradientTape() as tape:
        features, logits = probe(with_side_inputs(probe, images, side), training=False)
        tape.watch(features)
        if class_index is None:
            index = tf.argmax(logits, axis=-1, output_type=tf.int32)
        else:
            index = tf.broadcast_to(tf.cast(class_index, tf.int32), tf.shape(logits)[:1])
        score = tf.reduce_sum(tf.gather(logits, index[:, None], batch_dims=1))
    gradients = tape.gradient(score, features)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()
    return cam / np.maximum(cam.max(axis=(1, 2), keepdims=True), 1e-12)


def attention_layer_names(model: keras.Model) -> list[str]:
    """Names of the model's attention-map layers ("attention_maps*"), in graph order.

    >>> import fgkeras
    >>> model = fgkeras.build("ma_cnn", num_classes=3, backbone="tiny", weights=None,
    ...                       input_shape=(32, 32, 3))
    >>> attention_layer_names(model)
    ['attention_maps']
    """
    return [layer.name for layer in model.layers if layer.name.startswith(ATTENTION_PREFIX)]


def attention_maps(model, images, names=None) -> dict:
    """The model's own attention maps by layer name: {name: (batch, h, w, maps)}.

    Args:
        model: a model with named attention layers.
        images: raw pixel batch.
        names: layer names; None takes every "attention_maps*" layer.
            Defaults to None.

    >>> import fgkeras
    >>> model = fgkeras.build("ws_dan", num_classes=3, backbone="tiny", weights=None,
    ...                       input_shape=(32, 32, 3), num_attention_maps=4)
    >>> attention_maps(model, np.zeros((1, 32, 32, 3), "float32"))["attention_maps"].shape
    (1, 8, 8, 4)
    """
    names = attention_layer_names(model) if names is None else list(names)
    if not names:
        raise ValueError(
            f"Model {model.name!r} has no attention-map layer (named '{ATTENTION_PREFIX}*'); "
            "use grad_cam() to explain it instead."
        )
    outputs = {}
    for name in names:
        try:
            outputs[name] = model.get_layer(name).output
        except ValueError as error:
            raise ValueError(f"Model {model.name!r} has no layer named {name!r}.") from error
    probe = keras.Model(model.input, outputs)
    result = probe(np.asarray(images, "float32"), training=False)
    return {name: np.asarray(value) for name, value in result.items()}


def glimpse_maps(boxes, size) -> np.ndarray:
    """How many glimpse boxes cover each cell of a (height, width) grid: (batch, h, w).

    Args:
        boxes: (batch, glimpses, 4) normalized (ymin, xmin, ymax, xmax).
        size: (height, width) of the maps.

    >>> glimpse_maps(np.array([[[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 1.0, 0.5]]]), (2, 2))[0].tolist()
    [[2.0, 0.0], [1.0, 0.0]]
    """
    boxes = np.asarray(boxes, "float32")
    ys = (np.arange(size[0]) + 0.5) / size[0]
    xs = (np.arange(size[1]) + 0.5) / size[1]
    rows = (ys >= boxes[..., 0:1]) & (ys <= boxes[..., 2:3])  # (batch, glimpses, h)
    cols = (xs >= boxes[..., 1:2]) & (xs <= boxes[..., 3:4])  # (batch, glimpses, w)
    return (rows[..., :, None] & cols[..., None, :]).sum(axis=1).astype("float32")


def map_peaks(heatmaps) -> np.ndarray:
    """Normalized (y, x) cell centers of each map's maximum: (batch, 2).

    Args:
        heatmaps: (batch, h, w) or (batch, h, w, maps) (maps are averaged).

    >>> m = np.zeros((1, 4, 2)); m[0, 3, 1] = 1.0
    >>> map_peaks(m).tolist()
    [[0.875, 0.75]]
    """
    heatmaps = np.asarray(heatmaps, "float32")
    if heatmaps.ndim == 4:
        heatmaps = heatmaps.mean(axis=-1)
    batch, height, width = heatmaps.shape
    flat = heatmaps.reshape(batch, -1).argmax(axis=-1)
    return np.stack([(flat // width + 0.5) / height, (flat % width + 0.5) / width], axis=-1)


def peak_in_boxes(heatmaps, boxes) -> np.ndarray:
    """Whether each map's peak lies in one of its boxes: (batch,) bool.

    Args:
        heatmaps: (batch, h, w[, maps]).
        boxes: (batch, 4) or (batch, k, 4) normalized (ymin, xmin, ymax, xmax).

    >>> m = np.zeros((1, 4, 4)); m[0, 0, 0] = 1.0
    >>> peak_in_boxes(m, np.array([[[0.5, 0.5, 1, 1], [0, 0, 0.3, 0.3]]])).tolist()
    [True]
    """
    return points_in_boxes(map_peaks(heatmaps), boxes)


def points_in_boxes(points, boxes) -> np.ndarray:
    """Whether each normalized (y, x) point lies in one of its boxes: (batch,) bool.

    Args:
        points: (batch, 2) normalized (y, x), e.g. `map_peaks` or a zoom centre.
        boxes: (batch, 4) or (batch, k, 4) normalized (ymin, xmin, ymax, xmax).

    >>> points = np.array([[0.2, 0.2], [0.9, 0.1]])
    >>> points_in_boxes(points, np.array([[0, 0, 0.5, 0.5]] * 2)).tolist()
    [True, False]
    """
    points = np.asarray(points, "float32")[:, None, :]
    boxes = np.asarray(boxes, "float32")
    boxes = boxes[:, None, :] if boxes.ndim == 2 else boxes
    inside = (
        (points[..., 0] >= boxes[..., 0])
        & (points[..., 0] <= boxes[..., 2])
        & (points[..., 1] >= boxes[..., 1])
        & (points[..., 1] <= boxes[..., 3])
    )
    return inside.any(axis=-1)


def chance_in_boxes(boxes, grid=16) -> float:
    """What `peak_in_boxes` scores for a peak at a random cell: the mean share of
    a ``grid`` × ``grid`` map's cell centres inside any of each image's boxes.

    Args:
        boxes: (batch, k, 4) normalized (ymin, xmin, ymax, xmax).
        grid: cells per side of the map (a large grid ≈ a random point).
            Defaults to 16.

    >>> chance_in_boxes(np.array([[[0.0, 0.0, 0.5, 0.5]]]), grid=4)
    0.25
    """
    centers = (np.arange(grid) + 0.5) / grid
    y, x = np.meshgrid(centers, centers, indexing="ij")
    b = np.asarray(boxes)[..., None, None]  # (image, box, 4, 1, 1)
    inside = (b[:, :, 0] <= y) & (y <= b[:, :, 2]) & (b[:, :, 1] <= x) & (x <= b[:, :, 3])
    return float(inside.any(axis=1).mean())


def upsample(heatmap, size) -> np.ndarray:
    """Bilinearly resize one (h, w) map to ``size`` = (height, width).

    >>> upsample(np.ones((2, 2)), (4, 4)).shape
    (4, 4)
    """
    heatmap = np.asarray(heatmap, "float32")[None, :, :, None]
    return tf.image.resize(heatmap, size, method="bilinear").numpy()[0, :, :, 0]


def save_overlay(image, heatmap, path, title=None, alpha=0.45) -> str:
    """Save ``image`` with ``heatmap`` (any resolution, max-normalized) drawn over it.

    Args:
        image: (height, width, 3) or (height, width, 1) raw 0-255 pixels.
        heatmap: (h, w) map.
        path: PNG file to write (folders are created).
        title: optional title. Defaults to None.
        alpha: opacity of the heatmap. Defaults to 0.45.

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> save_overlay(np.zeros((8, 8, 3)), np.eye(4), path) == path and os.path.exists(path)
    True
    """
    # A bare Figure, not pyplot: saving files must not switch the global
    # backend (that would stop inline figures in a notebook).
    from matplotlib.figure import Figure

    image = np.asarray(image, "float32")
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    heat = upsample(heatmap, image.shape[:2])
    heat = heat / max(float(heat.max()), 1e-12)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure = Figure(figsize=(3, 3), dpi=100)
    axis = figure.add_subplot()
    axis.imshow(np.clip(image / 255.0, 0.0, 1.0))
    axis.imshow(heat, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
    axis.axis("off")
    if title:
        axis.set_title(title, fontsize=8)
    figure.savefig(path, bbox_inches="tight")
    return path


def explain(
    model, images, out_dir, class_index=None, names=None, image_names=None, side=None
) -> list:
    """Write Grad-CAM and attention-map overlays of ``images`` as PNGs; return their rows.

    Each row is {"image", "method", "path", "peak_y", "peak_x"}. Grad-CAM is
    drawn for every model; each "attention_maps*" layer (or those in
    ``names``) also gets one overlay of its maps' mean, and a model with a
    "glimpse_boxes" layer one overlay of `glimpse_maps`.

    Args:
        model: a model of the zoo.
        images: raw pixel batch.
        out_dir: folder for the PNG files.
        class_index: class for Grad-CAM (None: the top class). Defaults to None.
        names: attention layers to draw; None: all. Defaults to None.
        image_names: stems for the files. Defaults to "image0", "image1", ...
        side: a side-input model's side vector, for Grad-CAM; None: unknown.
            Defaults to None.

    >>> import tempfile, fgkeras
    >>> model = fgkeras.build("soft_attention", num_classes=3, backbone="tiny", weights=None,
    ...                       input_shape=(32, 32, 3))
    >>> rows = explain(model, np.zeros((1, 32, 32, 3)), tempfile.mkdtemp())
    >>> [row["method"] for row in rows]
    ['grad_cam', 'attention_maps']
    """
    images = np.asarray(images, "float32")
    image_names = image_names or [f"image{i}" for i in range(len(images))]
    heatmaps = {"grad_cam": grad_cam(model, images, class_index, side=side)}
    if names is not None or attention_layer_names(model):
        for name, maps in attention_maps(model, images, names).items():
            heatmaps[name] = maps.mean(axis=-1) if maps.ndim == 4 else maps
    if "glimpse_boxes" in {layer.name for layer in model.layers}:
        probe = keras.Model(model.input, model.get_layer("glimpse_boxes").output)
        boxes = np.asarray(probe(images, training=False))
        heatmaps["glimpse_boxes"] = glimpse_maps(boxes, images.shape[1:3])
    rows = []
    for method, maps in heatmaps.items():
        peaks = map_peaks(maps)
        for i, stem in enumerate(image_names):
            path = os.path.join(out_dir, f"{stem}_{method}.png")
            save_overlay(images[i], maps[i], path, title=f"{stem}: {method}")
            rows.append(
                {
                    "image": stem,
                    "method": method,
                    "path": path,
                    "peak_y": float(peaks[i, 0]),
                    "peak_x": float(peaks[i, 1]),
                }
            )
    return rows
