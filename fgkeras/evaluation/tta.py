"""The test-time augmentation block of an evaluation report (``evaluate(..., tta="flip")``).

The mirrored view is computed in the same pass over the data as the
single-view scores (`FlippedView` appends its logits to the model's
outputs), so the two views of an image always pair up, whatever the
order of the dataset. The report keeps the single-view numbers as they
are and adds a separate block::

    "tta": {"mode": "flip", "top1_accuracy": ..., "top_k": 5,
            "top_k_accuracy": ..., "mean_per_class_accuracy": ...}

computed from the mean of the two views' softmax (see `fgkeras.models.tta`
for why probabilities are averaged). The model's outputs are taken as
logits, as every zoo model returns.
"""

from __future__ import annotations

import keras
import numpy as np

from fgkeras.evaluation.metrics import metrics_from_predictions
from fgkeras.models.common import with_side_inputs
from fgkeras.models.tta import first_output, flip_images, mean_probabilities

TTA_KEYS = ("top1_accuracy", "top_k", "top_k_accuracy", "mean_per_class_accuracy")


class FlippedView:
    """A callable for `fgkeras.evaluation.evaluator.collect_outputs`: the outputs of
    ``network``, then the logits of ``model`` on the horizontally mirrored images.

    Args:
        network: what the single-view pass runs (the model, or a view of it
            with more outputs: embeddings, level logits, ...).
        model: the classifier whose first output (logits) is taken on the mirror.

    >>> import keras, numpy as np
    >>> x = keras.Input((1, 2, 1))
    >>> net = keras.Model(x, keras.layers.Flatten()(x))
    >>> outputs = FlippedView(net, net)(np.array([[[[1.0], [2.0]]]], "float32"))
    >>> [keras.ops.convert_to_numpy(o).tolist() for o in outputs]
    [[[1.0, 2.0]], [[2.0, 1.0]]]
    """

    def __init__(self, network, model):
        self.network = network
        self.model = model

    def __call__(self, x, training=False):
        outputs = self.network(with_side_inputs(self.network, x), training=training)
        outputs = list(outputs) if isinstance(outputs, tuple | list) else [outputs]
        mirrored = self.model(flip_images(with_side_inputs(self.model, x)), training=training)
        return [*outputs, first_output(mirrored)]


def predict_with_mirror(model, dataset):
    """``(labels [N], logits [N, C], mirrored logits [N, C])`` of ``model`` over a
    batched ``(inputs, labels)`` dataset, in one pass.

    >>> import keras, tensorflow as tf
    >>> x = keras.Input((1, 2, 1))
    >>> net = keras.Model(x, keras.layers.Flatten()(x))
    >>> ds = tf.data.Dataset.from_tensor_slices(([[[[1.0], [2.0]]]], [1])).batch(1)
    >>> labels, logits, mirrored = predict_with_mirror(net, ds)
    >>> labels.tolist(), logits.tolist(), mirrored.tolist()
    ([1], [[1.0, 2.0]], [[2.0, 1.0]])
    """
    from fgkeras.evaluation.evaluator import collect_outputs

    labels, outputs = collect_outputs(FlippedView(model, model), dataset)
    if len(outputs) != 2:
        raise ValueError(
            f"evaluate needs a model with one output, the [B, C] scores. "
            f"Received a model with {len(outputs) - 1} outputs."
        )
    return labels, outputs[0], outputs[1]


def tta_metrics(labels, logits, mirrored_logits, class_names=None, top_k=5, mode="flip") -> dict:
    """The ``"tta"`` block: accuracy of the mean softmax of the two views.

    Args:
        labels: int array ``[N]``.
        logits: the images' logits ``[N, C]``.
        mirrored_logits: the mirrored images' logits ``[N, C]``.
        class_names: ``C`` names, or None. Defaults to None.
        top_k: the k of top-k accuracy. Defaults to 5.
        mode: the TTA mode reported. Defaults to "flip".

    >>> m = tta_metrics([0, 1], [[2.0, 0.0], [2.0, 0.0]], [[2.0, 0.0], [0.0, 5.0]], top_k=1)
    >>> m  # doctest: +NORMALIZE_WHITESPACE
    {'mode': 'flip', 'top1_accuracy': 1.0, 'top_k': 1, 'top_k_accuracy': 1.0,
     'mean_per_class_accuracy': 1.0}
    """
    probabilities = keras.ops.convert_to_numpy(mean_probabilities([logits, mirrored_logits]))
    found = metrics_from_predictions(
        labels, np.asarray(probabilities, np.float64), class_names, top_k=top_k
    )
    return {"mode": mode, **{key: found[key] for key in TTA_KEYS}}
