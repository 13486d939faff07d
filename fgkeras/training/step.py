"""The one training step every zoo model trains with.

`gradient_step` is what `Trainer.train_step` (and `MultiPassModel.train_step`
for a plain ``model.fit``) runs on one batch:

1. augment the images on the device (training only);
2. compute the loss terms: the compiled loss of one forward pass, the
   model's own `train_losses` for multi-pass models (WS-DAN's crop and drop
   passes, RA-CNN's ranking loss, ...), or the `Trainer`'s objective terms
   (a metric loss on the embedding, with or without cross-entropy);
3. route each term to the weights it trains (`trainable_groups`, for the
   alternating schedules of RA-CNN and MA-CNN), sum the gradients per weight;
4. apply them with the head's optimizer, and the backbone's weights with a
   second optimizer when the backbone learns at another rate;
5. update the loss tracker, the compiled metrics and the extra loss terms.

Losses are per replica; Keras multiplies the tracked loss back by the number
of replicas, and so does this step.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fgkeras.training import keras_internals


def is_multi_pass(model) -> bool:
    """True for models that compute their own training losses (`train_losses`).

    >>> is_multi_pass(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    False
    """
    return callable(getattr(model, "train_losses", None))


def gradient_step(host, net, data, augmenter=None, backbone_optimizer=None, backbone_ids=()):
    """Run one training step of ``net`` whose compile state lives on ``host``.

    Args:
        host: the compiled `keras.Model` whose optimizer, loss and metrics
            are used (the `Trainer`, or ``net`` itself).
        net: the zoo model being trained.
        data: one ``(x, y[, sample_weight])`` batch.
        augmenter: a layer applied to the images first, or None. Defaults to None.
        backbone_optimizer: the optimizer of the backbone's weights, or None
            to use the host's for all. Defaults to None.
        backbone_ids: ``id()`` of the backbone's variables. Defaults to ().

    Returns:
        The logs dict (loss, compiled metrics, the model's extra terms).
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if augmenter is not None:
        x = augment_inputs(augmenter, x)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    batch = tf.shape(tf.nest.flatten(x)[0])[0]

    def loss_fn(y_pred):
        return keras_internals.compiled_loss(host, x, y, y_pred, sample_weight)

    with tf.GradientTape(persistent=True) as tape:
        if is_multi_pass(net):
            terms, logits = net.train_losses(x, y, sample_weight, loss_fn)
            groups = net.trainable_groups(terms, host.optimizer.iterations)
        elif getattr(host, "metric_loss", None) is not None:
            terms, logits = host.objective_terms(x, y, sample_weight, training=True)
            groups = [(terms["loss"], net.trainable_weights)]
        else:
            logits = net(x, training=True)
            terms = {"loss": loss_fn(logits)}
            groups = [(terms["loss"], net.trainable_weights)]
        keras_internals.loss_tracker(host).update_state(
            terms["loss"] * replicas, sample_weight=batch
        )
        scaled = [(host.optimizer.scale_loss(loss), weights) for loss, weights in groups]
    summed = {}
    for loss, weights in scaled:
        for weight, gradient in zip(weights, tape.gradient(loss, weights)):
            if gradient is not None:
                if isinstance(gradient, tf.IndexedSlices):  # e.g. word embeddings: summable
                    gradient = tf.convert_to_tensor(gradient)
                previous = summed.get(id(weight), (0.0, weight))[0]
                summed[id(weight)] = (previous + gradient, weight)
    del tape
    _apply(host.optimizer, backbone_optimizer, set(backbone_ids), list(summed.values()))
    logs = host.compute_metrics(x, y, logits, sample_weight=sample_weight)
    trackers = list(getattr(net, "term_trackers", ()))
    if host is not net:
        trackers += list(getattr(host, "term_trackers", ()))
    for tracker in trackers:
        tracker.update_state(terms[tracker.name] * replicas, sample_weight=batch)
        logs[tracker.name] = tracker.result()
    return logs


def augment_inputs(augmenter, x):
    """Apply ``augmenter`` (training mode) to the images of ``x`` (a batch or a feature dict)."""
    if isinstance(x, dict):
        return {**x, "image": augmenter(x["image"], training=True)}
    return augmenter(x, training=True)


def _apply(optimizer, backbone_optimizer, backbone_ids, pairs):
    if backbone_optimizer is None:
        if pairs:
            optimizer.apply_gradients(pairs)
        return
    head = [(g, v) for g, v in pairs if id(v) not in backbone_ids]
    body = [(g, v) for g, v in pairs if id(v) in backbone_ids]
    # The backbone first: a head optimizer that averages every weight (EMA)
    # then sees this step's backbone weights.
    if body:
        backbone_optimizer.apply_gradients(body)
    if head:
        optimizer.apply_gradients(head)
