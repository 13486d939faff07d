"""The training wrapper: augmentation on the device, per-layer learning rates.

`Trainer` wraps a zoo model for `fit`. Augmentation layers run inside the
training step (so on the accelerator, on whole batches) and only when
``training=True``; `evaluate` and `predict` see the plain model. With
``backbone_lr_multiplier != 1`` the backbone's weights are updated by a
second optimizer whose learning rate is the head's times that multiplier,
the usual way to fine-tune a pretrained backbone slower than a new head.

Export and saving use ``trainer.model``, never the trainer itself.
"""

from __future__ import annotations

import keras


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

    def __init__(self, model, augmenter=None, backbone_lr_multiplier=1.0, **kwargs):
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

    def build(self, input_shape):
        if self.augmenter is not None and not self.augmenter.built:
            self.augmenter.build(input_shape)
        self.built = True

    def call(self, inputs, training=False):
        if self.augmenter is not None and training:
            inputs = self.augmenter(inputs, training=True)
        return self.model(inputs, training=training)

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
            self.backbone_optimizer = self.optimizer.__class__.from_config(config)

    def _uses_two_optimizers(self) -> bool:
        return self.backbone_lr_multiplier != 1.0 and has_layer(self.model, "backbone")

    def _backbone_ids(self) -> set:
        return {id(v) for v in self.model.get_layer("backbone").trainable_variables}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3 builds metrics from a first batch that it averages across
        # replicas with `strategy.reduce`, which fails under
        # MultiWorkerMirroredStrategy (keras-team/keras#20585). The shapes are
        # all it needs, so take this worker's first local replica instead.
        strategy = self._distribute_strategy
        if iterator is None or not _is_multi_worker(strategy):
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            batch = next(batches)
            data_batch = keras.tree.map_structure(
                lambda value: strategy.experimental_local_results(value)[0], batch
            )
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def train_step(self, data):
        if self.backbone_optimizer is None:
            return self._for_cross_worker_mean(super().train_step(data))
        return self._for_cross_worker_mean(self._two_optimizer_step(data))

    def test_step(self, data):
        return self._for_cross_worker_mean(super().test_step(data))

    def _for_cross_worker_mean(self, logs):
        # Under MultiWorkerMirroredStrategy Keras averages step logs with
        # strategy.reduce(..., axis=0), which rejects scalars; give it rank 1.
        if not _is_multi_worker(self._distribute_strategy):
            return logs
        return {key: keras.ops.reshape(value, (1,)) for key, value in logs.items()}

    def _two_optimizer_step(self, data):
        import tensorflow as tf  # per-variable optimizers need an explicit tape

        # Mirrors Keras' TensorFlow train_step (loss tracking and distribution
        # scaling included), except that two optimizers share the gradients.
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            self._loss_tracker.update_state(
                loss * self.distribute_strategy.num_replicas_in_sync,
                sample_weight=tf.shape(keras.tree.flatten(x)[0])[0],
            )
        variables = self.trainable_variables
        gradients = tape.gradient(loss, variables)
        backbone = self._backbone_ids()
        pairs = list(zip(gradients, variables))
        head_pairs = [(g, v) for g, v in pairs if id(v) not in backbone and g is not None]
        body_pairs = [(g, v) for g, v in pairs if id(v) in backbone and g is not None]
        if head_pairs:
            self.optimizer.apply_gradients(head_pairs)
        if body_pairs:
            self.backbone_optimizer.apply_gradients(body_pairs)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.model),
            "augmenter": keras.saving.serialize_keras_object(self.augmenter),
            "backbone_lr_multiplier": self.backbone_lr_multiplier,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        config["augmenter"] = keras.saving.deserialize_keras_object(config["augmenter"])
        return cls(**config)


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
    rate = optimizer._learning_rate
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
