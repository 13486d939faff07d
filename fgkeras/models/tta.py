"""Test-time augmentation (TTA): classify an image and its mirror, average the answers.

``tta="flip"`` runs the model on the image and on its horizontal mirror
and returns the **mean of the two softmax distributions** (Simonyan &
Zisserman 2015, §3.2: "the soft-max class posteriors of the original and
flipped images are averaged"). Probabilities, not logits, are averaged:

- the result is itself a probability distribution over the classes: the
  mixture of the two views, which is what the exported ``probabilities``
  and ``top_k_scores`` promise;
- each view's vote is bounded (at most 1 per class), so one over-confident
  view cannot outweigh the other through the scale of its logits, as it
  can when logits are averaged (timm's ``--tta`` averages model outputs,
  i.e. logits; for top-1 the two rarely differ).

Where logits are asked for (``classify_pixels``, TFLite) a TTA model
returns the log of the averaged probabilities (a log-mean-exp of the two
views' log-softmax), so ``softmax(logits) == probabilities`` still holds.
Only the image is mirrored: side inputs (``attribute_guided``'s
``attributes``) go to both views unchanged. The mirror is taken of the
model-size pixels, after resizing and centre-cropping, which commute with it.

Shared by `fgkeras.evaluation` (``evaluate(..., tta="flip")``),
`fgkeras.inference` (``predict(..., tta="flip")``) and `fgkeras.serving`
(``export(..., tta="flip")``).
"""

from __future__ import annotations

import math

import keras

from fgkeras.models.common import with_side_inputs

TTA_MODES = ("flip",)  # besides None, no test-time augmentation


def check_tta(tta):
    """Return ``tta`` if it is None or a known mode; else a ValueError naming them.

    >>> check_tta("flip"), check_tta(None)
    ('flip', None)
    >>> check_tta("flips")
    Traceback (most recent call last):
    ...
    ValueError: `tta` must be None or one of ('flip',). Received: tta='flips'
    """
    if tta is None or (isinstance(tta, str) and tta in TTA_MODES):
        return tta
    raise ValueError(f"`tta` must be None or one of {TTA_MODES}. Received: tta={tta!r}")


def flip_images(x):
    """The horizontal mirror of the images of ``x`` (``[B, H, W, C]``, or a feature
    dict whose ``"image"`` is mirrored and whose other entries are kept).

    >>> import numpy as np
    >>> image = np.arange(6, dtype="float32").reshape(1, 1, 3, 2)
    >>> keras.ops.convert_to_numpy(flip_images(image))[0, 0].tolist()
    [[4.0, 5.0], [2.0, 3.0], [0.0, 1.0]]
    """
    if isinstance(x, dict):
        return {**x, "image": keras.ops.flip(x["image"], axis=2)}
    return keras.ops.flip(x, axis=2)


def tta_views(x, tta):
    """The inputs the model sees for one batch: ``[x]``, or ``[x, mirror of x]`` for "flip".

    >>> import numpy as np
    >>> len(tta_views(np.zeros((1, 2, 2, 3)), None)), len(tta_views(np.zeros((1, 2, 2, 3)), "flip"))
    (1, 2)
    """
    if check_tta(tta) is None:
        return [x]
    return [x, flip_images(x)]


def mean_probabilities(logits_per_view):
    """The mean over views of the softmax of each view's logits ``[B, C]`` (float32).

    >>> import numpy as np
    >>> out = mean_probabilities([np.array([[0.0, 0.0]]), np.array([[0.0, 100.0]])])
    >>> np.round(keras.ops.convert_to_numpy(out), 3).tolist()
    [[0.25, 0.75]]
    """
    probabilities = [keras.ops.softmax(_float32(logits), axis=-1) for logits in logits_per_view]
    return keras.ops.mean(keras.ops.stack(probabilities), axis=0)


def mean_log_probabilities(logits_per_view):
    """``log`` of `mean_probabilities`, computed stably (log-mean-exp of the log-softmax).

    Serves as the "logits" of a TTA model: its softmax is `mean_probabilities`.

    >>> import numpy as np
    >>> out = mean_log_probabilities([np.array([[0.0, 0.0]]), np.array([[0.0, 100.0]])])
    >>> np.round(np.exp(keras.ops.convert_to_numpy(out)), 3).tolist()
    [[0.25, 0.75]]
    """
    if len(logits_per_view) == 1:
        return keras.ops.log_softmax(_float32(logits_per_view[0]), axis=-1)
    logs = [keras.ops.log_softmax(_float32(logits), axis=-1) for logits in logits_per_view]
    return keras.ops.logsumexp(keras.ops.stack(logs), axis=0) - math.log(len(logs))


def tta_probabilities(model, x, tta="flip", side=None):
    """Class probabilities of ``model`` on the batch ``x``, averaged over the TTA views.

    The model is called with ``training=False``; its first output is taken
    as the class logits (every zoo model's main output).

    Args:
        model: a Keras model returning logits ``[B, C]`` (first output).
        x: images ``[B, H, W, 3]`` at the model's size, or a feature dict.
        tta: None (the image alone: its softmax) or "flip". Defaults to "flip".
        side: side vector of a side-input model (see
            `fgkeras.models.common.with_side_inputs`). Defaults to None.

    Returns:
        Probabilities ``[B, C]`` (float32), each row summing to 1.

    >>> import fgkeras, numpy as np
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(16, 16, 3))
    >>> x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    >>> probabilities = keras.ops.convert_to_numpy(tta_probabilities(net, x))
    >>> probabilities.shape, np.allclose(probabilities.sum(axis=1), 1.0)
    ((2, 3), True)
    """
    # Tensors throughout: a model call refuses a dict mixing arrays and tensors.
    inputs = keras.tree.map_structure(keras.ops.convert_to_tensor, with_side_inputs(model, x, side))
    logits = [first_output(model(view, training=False)) for view in tta_views(inputs, tta)]
    return mean_probabilities(logits)


def first_output(outputs):
    """The first output of a model call (the output itself when there is one)."""
    return outputs[0] if isinstance(outputs, list | tuple) else outputs


def _float32(x):
    return keras.ops.cast(keras.ops.convert_to_tensor(x), "float32")
