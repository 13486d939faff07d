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
    if (
        isinstance(alternate_every, bool)
        or not isinstance(alternate_every, int)
        or (alternate_every < 0)
    ):
        raise ValueError(
            f"`alternate_every` must be an integer >= 0. Received: {alternate_every!r}"
        )
    return alternate_every


class MultiPassModel(keras.Model):
    """Functional model whose `train_step` runs `multi_pass_losses`.

    Subclasses set ``INTERMEDIATES`` (names of layers to read in training)
    and implement ``multi_pass_losses(x, y, sample_weight)``, returning
    ``(terms, logits)``: a dict of scalar loss terms with the total under
    "loss" (the terms named in ``LOSS_TERMS`` are reported as metrics), and the logits that update
    the compiled metrics. ``trainable_groups`` may route each term to some
    of the weights only (alternating training).

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

    def multi_pass_losses(self, x, y, sample_weight):
        """Return ``({"loss": total, ...}, logits)`` for one training batch."""
        logits = self(x, training=True)
        loss = self._compute_loss(x=x, y=y, y_pred=logits, sample_weight=sample_weight)
        return {"loss": loss}, logits

    def trainable_groups(self, terms):
        """Pairs (loss term, weights it trains); default: the total, all weights."""
        return [(terms["loss"], self.trainable_weights)]

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape(persistent=True) as tape:
            terms, logits = self.multi_pass_losses(x, y, sample_weight)
            batch = tf.shape(tf.nest.flatten(x)[0])[0]
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            self._loss_tracker.update_state(terms["loss"] * replicas, sample_weight=batch)
            groups = [
                (self.optimizer.scale_loss(loss), weights)
                for loss, weights in self.trainable_groups(terms)
            ]
        summed = {}
        for loss, weights in groups:
            for weight, gradient in zip(weights, tape.gradient(loss, weights)):
                if gradient is not None:
                    previous = summed.get(id(weight), (0.0, weight))[0]
                    summed[id(weight)] = (previous + gradient, weight)
        del tape
        if summed:
            self.optimizer.apply_gradients(list(summed.values()))
        results = self.compute_metrics(x, y, logits, sample_weight=sample_weight)
        for tracker in self.term_trackers:
            tracker.update_state(terms[tracker.name] * replicas, sample_weight=batch)
            results[tracker.name] = tracker.result()
        return results
