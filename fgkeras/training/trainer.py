"""The training wrapper every zoo model is fitted through.

`Trainer` wraps a zoo model for `fit` and runs `fgkeras.training.step.gradient_step`:
augmentation layers run inside the training step (on the accelerator, on
whole batches, only when training: `evaluate` and `predict` see the plain
model), multi-pass models add their own loss terms, and with
``backbone_lr_multiplier != 1`` the backbone's weights are updated by a second
optimizer whose learning rate is the head's times that multiplier, the usual
way to fine-tune a pretrained backbone slower than a new head. It also holds
the workarounds that Keras 3's ``fit`` needs under MultiWorkerMirroredStrategy
(keras-team/keras#20585), in one place.

With an optimizer that keeps an exponential moving average of the weights
(``use_ema=True``), `Trainer.compile` builds it on every trainable weight of
the model at once: ``fit`` ends by writing the averages into
``self.trainable_weights`` by position (``finalize_variable_values``), and
`keras.callbacks.SwapEMAWeights` swaps ``optimizer._trainable_variables``,
so one optimizer must average them all, in that order. With a backbone
multiplier the head's optimizer averages the backbone too (the backbone's
own optimizer keeps no average), and the step applies the backbone's
update first, so that average sees each step's backbone weights.

Export and saving use ``trainer.model``, never the trainer itself.
"""

from __future__ import annotations

import dataclasses
import types

import keras

from fgkeras.models.common import with_side_inputs
from fgkeras.training import keras_internals
from fgkeras.training.objective import CROSS_ENTROPY, Objective
from fgkeras.training.step import augment_inputs, gradient_step


@keras.saving.register_keras_serializable(package="fgkeras")
class Trainer(keras.Model):
    """Fit-time wrapper around a model: augmentation + per-layer learning rates.

    Args:
        model: the zoo model to train (its "backbone" sub-model gets the
            slower learning rate).
        augmenter: a layer (e.g. `keras.Sequential` of augmentation layers)
            applied to the images when training, or None. Defaults to None.
        backbone_lr_multiplier: learning-rate factor of the backbone's
            weights relative to the head's. Defaults to 1.0.
        objective: the loss terms (`fgkeras.training.objective.Objective`);
            None is plain cross-entropy, the compiled loss. With a metric
            term, the metric loss trains the model's embedding
            (`fgkeras.models.heads.embedding_layer`) and each term is logged.
            Defaults to None.

    >>> import fgkeras, numpy as np
    >>> net = fgkeras.build("baseline", num_classes=2, backbone="tiny", weights=None,
    ...                     input_shape=(16, 16, 3))
    >>> trainer = Trainer(net, keras.layers.RandomFlip("horizontal"), 0.1)
    >>> trainer.compile(keras.optimizers.SGD(0.01),
    ...                 keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> x, y = np.zeros((4, 16, 16, 3), "float32"), np.array([0, 1, 0, 1])
    >>> trainer.fit(x, y, epochs=1, verbose=0).history["loss"][0] > 0
    True
    """

    def __init__(self, model, augmenter=None, backbone_lr_multiplier=1.0, objective=None, **kwargs):
        super().__init__(**kwargs)
        if not backbone_lr_multiplier >= 0:
            raise ValueError(
                "`backbone_lr_multiplier` must be >= 0. "
                f"Received: backbone_lr_multiplier={backbone_lr_multiplier}"
            )
        self.model = model
        self.augmenter = augmenter
        self.backbone_lr_multiplier = float(backbone_lr_multiplier)
        self.backbone_optimizer = None
        self.objective = objective or Objective((CROSS_ENTROPY,), (1.0,))
        self.term_trackers = []
        self.metric_loss = self.objective.metric_loss()
        if self.metric_loss is not None:
            from fgkeras.models.heads import embedding_layer

            if len(self.objective.terms) > 1:
                self.term_trackers = [keras.metrics.Mean(name=t) for t in self.objective.terms]
            # Out of Keras' tracking: it shares every variable with `model`.
            self._views = types.SimpleNamespace(
                network=keras.Model(model.inputs, [model.outputs[0], embedding_layer(model).output])
            )

    def objective_terms(self, x, y, sample_weight, training):
        """``({"loss": total, term: value, ...}, logits)`` of one batch, or None.

        None when the objective is plain cross-entropy (the compiled loss);
        otherwise the weighted sum of the compiled cross-entropy on the logits
        and the metric loss on the embedding, plus the model's own added
        losses (regularizers, attention penalties) once, unweighted.
        """
        if self.metric_loss is None:
            return None
        network = self._views.network
        logits, embedding = network(with_side_inputs(network, x), training=training)
        terms = {}
        if self.objective.has_classifier_loss:
            # The compiled loss alone: layers' added losses are counted once, below.
            cross_entropy = keras.losses.get(self.loss)
            terms[CROSS_ENTROPY] = cross_entropy(y, logits, sample_weight=sample_weight)
        terms[self.objective.metric_term] = self.metric_loss(y, embedding)
        total = sum(self.objective.weight(name) * value for name, value in terms.items())
        # Regularizers and `add_loss` terms (e.g. an attention penalty), unweighted,
        # as Keras adds them to a compiled loss.
        for extra in self.losses:
            total = total + keras.ops.cast(extra, total.dtype)
        terms["loss"] = total
        return terms, logits

    def build(self, input_shape):
        if self.augmenter is not None and not self.augmenter.built:
            self.augmenter.build(input_shape)
        self.built = True

    def call(self, inputs, training=False):
        if self.augmenter is not None and training is True:
            inputs = augment_inputs(self.augmenter, inputs)
        return self.model(with_side_inputs(self.model, inputs), training=training)

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        if self._uses_two_optimizers():
            if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                raise ValueError(
                    "A backbone learning-rate multiplier cannot be combined with "
                    "mixed_float16 loss scaling; use mixed_bfloat16 or "
                    "backbone_lr_multiplier=1.0."
                )
            config = self.optimizer.get_config()
            config["learning_rate"] = _scaled(self.optimizer, self.backbone_lr_multiplier)
            config["name"] = "backbone_optimizer"
            config["use_ema"] = False  # the head's optimizer averages every weight
            self.backbone_optimizer = self.optimizer.__class__.from_config(config)
        self._build_optimizers()

    def _build_optimizers(self):
        # Without a distribution strategy Keras builds the optimizer at the first
        # step, inside the traced training function; the variables it creates
        # there make tf.function trace the whole step a second time. Built here,
        # each on the weights it updates.
        weights = self.trainable_variables
        if self.backbone_optimizer is not None:
            backbone_ids = self._backbone_ids()
            if not self.backbone_optimizer.built:
                self.backbone_optimizer.build([v for v in weights if id(v) in backbone_ids])
            if not uses_ema(self.optimizer):
                weights = [v for v in weights if id(v) not in backbone_ids]
        if self.optimizer is not None and not self.optimizer.built:
            # With EMA, `fit` writes the averages back into `self.trainable_weights`
            # by position, so the averaging optimizer holds exactly those.
            self.optimizer.build(weights)

    def _uses_two_optimizers(self) -> bool:
        return self.backbone_lr_multiplier != 1.0 and has_layer(self.model, "backbone")

    def _backbone_ids(self) -> set:
        return {id(v) for v in self.model.get_layer("backbone").trainable_variables}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3 builds metrics from a first batch that it averages across
        # replicas with `strategy.reduce`, which fails under
        # MultiWorkerMirroredStrategy (keras-team/keras#20585). The shapes are
        # all it needs, so take this worker's first local replica instead.
        strategy = self.distribute_strategy
        if iterator is None or not _is_multi_worker(strategy):
            return keras_internals.default_symbolic_build(self, iterator, data_batch)
        for _, _, batches in iterator:
            batch = next(batches)
            data_batch = keras.tree.map_structure(
                lambda value: strategy.experimental_local_results(value)[0], batch
            )
            break
        with strategy.scope():
            keras_internals.symbolic_build(self, data_batch)

    def train_step(self, data):
        backbone_ids = self._backbone_ids() if self.backbone_optimizer is not None else ()
        logs = gradient_step(
            self, self.model, data, self.augmenter, self.backbone_optimizer, backbone_ids
        )
        return self._for_cross_worker_mean(logs)

    def test_step(self, data):
        if self.metric_loss is None:
            return self._for_cross_worker_mean(super().test_step(data))
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        batch = tf.shape(tf.nest.flatten(x)[0])[0]
        terms, logits = self.objective_terms(x, y, sample_weight, training=False)
        keras_internals.loss_tracker(self).update_state(
            terms["loss"] * replicas, sample_weight=batch
        )
        logs = self.compute_metrics(x, y, logits, sample_weight=sample_weight)
        for tracker in self.term_trackers:
            tracker.update_state(terms[tracker.name] * replicas, sample_weight=batch)
            logs[tracker.name] = tracker.result()
        return self._for_cross_worker_mean(logs)

    def _for_cross_worker_mean(self, logs):
        # Under MultiWorkerMirroredStrategy Keras averages step logs with
        # strategy.reduce(..., axis=0), which rejects scalars; give it rank 1.
        if not _is_multi_worker(self.distribute_strategy):
            return logs
        return {key: keras.ops.reshape(value, (1,)) for key, value in logs.items()}

    def get_config(self):
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.model),
            "augmenter": keras.saving.serialize_keras_object(self.augmenter),
            "backbone_lr_multiplier": self.backbone_lr_multiplier,
            "objective": dataclasses.asdict(self.objective),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        config["augmenter"] = keras.saving.deserialize_keras_object(config["augmenter"])
        if config.get("objective") is not None:
            objective = config["objective"]
            config["objective"] = Objective(
                tuple(objective["terms"]), tuple(objective["weights"]), objective["metric_options"]
            )
        return cls(**config)


def uses_ema(optimizer) -> bool:
    """True when ``optimizer`` (or the one a loss-scale optimizer wraps) keeps a
    moving average of the weights.

    >>> uses_ema(keras.optimizers.SGD(use_ema=True)), uses_ema(keras.optimizers.SGD())
    (True, False)
    """
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return bool(getattr(inner, "use_ema", False))


def _is_multi_worker(strategy) -> bool:
    if strategy is None:
        return False
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def has_layer(model, name) -> bool:
    """True when ``model`` has a top-level layer called ``name``."""
    return any(layer.name == name for layer in model.layers)


def _scaled(optimizer, factor):
    """The optimizer's learning rate (a float or a schedule) times ``factor``."""
    rate = keras_internals.learning_rate_schedule(optimizer)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        return ScaledSchedule(rate, factor)
    return float(keras.ops.convert_to_numpy(rate)) * factor


@keras.saving.register_keras_serializable(package="fgkeras")
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule multiplied by a constant factor.

    >>> base = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=10)
    >>> round(float(ScaledSchedule(base, 0.5)(0)), 6)
    0.05
    """

    def __init__(self, schedule, factor):
        self.schedule = schedule
        self.factor = factor

    def __call__(self, step):
        return self.schedule(step) * self.factor

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "factor": self.factor,
        }

    @classmethod
    def from_config(cls, config):
        schedule = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(schedule, config["factor"])
