"""A functional model with its own multi-pass `train_step` (WS-DAN, RA-CNN, MA-CNN, ...).

`MultiPassModel` is a `keras.Model` built the functional way (so the zoo's
named layers "backbone", "feature_map", "pooler", "predictions" are found by
``get_layer``), whose subclasses add training passes and auxiliary losses in
`multi_pass_losses`. `fit` with ``(images, int labels)`` batches then just
works, including under `tf.distribute` (auxiliary terms are scaled per
replica like Keras scales the compiled loss).

Intermediates named in ``INTERMEDIATES`` are read through a second,
untracked functional view on the same layers (`run`), so a training pass
costs one forward computation whatever it needs to read.
"""

import types

import keras
import tensorflow as tf

from fgkeras.checks import check_int


def replica_scaled(value):
    """Divide a per-replica loss term by the replica count (as Keras does).

    >>> float(replica_scaled(tf.constant(2.0)))
    2.0
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value / replicas if replicas > 1 else value


def check_alternate_every(alternate_every) -> int:
    """Validate the steps between alternations of a multi-pass model (0: never).

    >>> check_alternate_every(3)
    3
    """
    return check_int("alternate_every", alternate_every, minimum=0)


class MultiPassModel(keras.Model):
    """Functional model whose `train_step` runs `multi_pass_losses`.

    Subclasses set ``INTERMEDIATES`` (names of layers to read in training)
    and implement ``train_losses(x, y, sample_weight, loss_fn)``, returning
    ``(terms, logits)``: a dict of scalar loss terms with the total under
    "loss" (the terms named in ``LOSS_TERMS`` are reported as metrics), and
    the logits that update the compiled metrics. ``trainable_groups`` may
    route each term to some of the weights only (alternating training).
    The step itself is `fgkeras.training.step.gradient_step`, shared with
    every other model.

    Args:
        *args, **kwargs: those of a functional `keras.Model`
            (``inputs``, ``outputs``, ``name``).

    >>> import fgkeras
    >>> model = fgkeras.build("ws_dan", num_classes=3, backbone="tiny", weights=None,
    ...                       input_shape=(32, 32, 3))
    >>> isinstance(model, MultiPassModel)
    True
    """

    INTERMEDIATES = ()
    LOSS_TERMS = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.term_trackers = [keras.metrics.Mean(name=name) for name in self.LOSS_TERMS]
        outputs = {"logits": self.outputs[0]}
        for name in self.intermediate_names():
            outputs[name] = self.get_layer(name).output
        # Kept out of Keras' tracking (a plain namespace): it shares every layer
        # and variable with `self`, so saving `self` saves it too.
        self._views = types.SimpleNamespace(
            network=keras.Model(self.input, outputs, name=f"{self.name}_views")
        )

    def intermediate_names(self):
        """Names of the layers whose outputs `run` returns besides "logits"."""
        return list(self.INTERMEDIATES)

    def run(self, x, training=False):
        """The dict {"logits", *INTERMEDIATES} of one forward pass on ``x``."""
        return self._views.network(x, training=training)

    def train_losses(self, x, y, sample_weight, loss_fn):
        """Return ``({"loss": total, ...}, logits)`` for one training batch.

        Args:
            x: the (augmented) images of the batch.
            y: their integer labels.
            sample_weight: per-example weights, or None.
            loss_fn: ``loss_fn(logits)``, the compiled loss of ``logits``
                against ``y`` (what `fit` would compute for one pass).
        """
        logits = self(x, training=True)
        return {"loss": loss_fn(logits)}, logits

    def trainable_groups(self, terms, step):
        """Pairs (loss term, weights it trains); default: the total, all weights.

        Args:
            terms: the dict `train_losses` returned.
            step: the optimizer's iteration counter (for alternating schedules).
        """
        return [(terms["loss"], self.trainable_weights)]

    def train_step(self, data):
        # `fgkeras.train` wraps the model in a `Trainer`, which runs the same
        # step; this keeps a plain `model.fit(images, labels)` multi-pass too.
        from fgkeras.training.step import gradient_step

        return gradient_step(self, self, data)


def alternation_gates(step, alternate_every: int):
    """Weights (first, second) of two alternating loss terms at ``step``.

    With ``alternate_every=N`` the first term trains for N steps, then the
    second for N steps, and so on (RA-CNN's and MA-CNN's schedules); with 0
    both train at every step.

    >>> [tuple(float(g) for g in alternation_gates(s, 2)) for s in (0, 2)]
    [(1.0, 0.0), (0.0, 1.0)]
    >>> alternation_gates(5, 0)
    (1.0, 1.0)
    """
    if not alternate_every:
        return 1.0, 1.0
    phase = (step // alternate_every) % 2
    second = keras.ops.cast(keras.ops.equal(phase, 1), "float32")
    return 1.0 - second, second
