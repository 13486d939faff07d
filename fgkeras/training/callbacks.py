"""Callbacks of `fgkeras.train`: NaN stop, saving the inner model, phase state."""

from __future__ import annotations

import json
import math
import os

import keras

from fgkeras.training.run_dir import write_json


class DivergenceError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


class StopOnNaN(keras.callbacks.Callback):
    """Stop at the first NaN/inf loss with a message that says what to try.

    >>> callback = StopOnNaN()
    >>> callback.on_epoch_begin(2)
    >>> try:
    ...     callback.on_train_batch_end(7, {"loss": float("nan")})
    ... except DivergenceError as error:
    ...     print(str(error)[:48])
    Training diverged: the loss became nan at epoch
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise DivergenceError(
                f"Training diverged: the loss became {float(loss)} at epoch {self._epoch + 1}, "
                f"batch {batch + 1}. Lower the learning rate, add warmup (warmup_epochs), or "
                "check the data for broken labels; the last completed epoch is in last.keras."
            )


class SaveModel(keras.callbacks.Callback):
    """Save the wrapped zoo model (``trainer.model``) as `.keras` after epochs.

    With ``monitor`` set, save only when that metric improves (higher is better).

    Args:
        path: the `.keras` file to write.
        monitor: a log key such as "val_accuracy", or None to save after
            every epoch. Defaults to None.
    """

    def __init__(self, path: str, monitor: str | None = None):
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.best = -math.inf

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor is not None:
            value = (logs or {}).get(self.monitor)
            if value is None or not value > self.best:
                return
            self.best = float(value)
        inner = getattr(self.model, "model", self.model)
        temporary = self.path.replace(".keras", ".tmp.keras")
        inner.save(temporary)
        os.replace(temporary, self.path)


def phase_state(run_dir: str) -> dict:
    """The training-phase bookkeeping of an interrupted run ({} when fresh).

    >>> phase_state("/no/such/run")
    {}
    """
    path = os.path.join(run_dir, "backup", "state.json")
    if not os.path.exists(path):
        return {}
    with open(path) as file:
        return json.load(file)


def save_phase_state(run_dir: str, completed_phase: int) -> None:
    """Record that training phase ``completed_phase`` finished."""
    write_json(os.path.join(run_dir, "backup", "state.json"), {"completed_phase": completed_phase})


class RetrievalMonitor(keras.callbacks.Callback):
    """Add validation Recall@K and MAP@R of the model's embedding to each epoch's logs.

    Runs before the checkpoint and CSV callbacks, so ``best.keras`` can follow
    ``val_recall_at_1`` (runs trained by a metric loss alone) and
    ``history.csv`` records it. The validation split is searched
    leave-one-out (`fgkeras.evaluation.retrieval.retrieval_metrics`).

    Args:
        model: the zoo model whose embedding is measured.
        dataset: batched ``(images, labels)`` validation data.
        ks: the K of the logged ``val_recall_at_K``. Defaults to (1,).

    >>> import fgkeras, numpy as np, tensorflow as tf
    >>> net = fgkeras.build("baseline", num_classes=2, backbone="tiny", weights=None,
    ...                     input_shape=(16, 16, 3))
    >>> images = np.random.default_rng(0).uniform(0, 255, (6, 16, 16, 3)).astype("float32")
    >>> data = tf.data.Dataset.from_tensor_slices((images, [0, 0, 0, 1, 1, 1])).batch(3)
    >>> logs = {}
    >>> RetrievalMonitor(net, data).on_epoch_end(0, logs)
    >>> sorted(logs), 0.0 <= logs["val_recall_at_1"] <= 1.0
    (['val_map_at_r', 'val_recall_at_1'], True)
    """

    def __init__(self, model, dataset, ks=(1,)):
        super().__init__()
        self.network = model
        self.dataset = dataset
        self.ks = tuple(ks)

    def on_epoch_end(self, epoch, logs=None):
        from fgkeras.evaluation.retrieval import embed_dataset, retrieval_metrics

        if logs is None:
            return
        embeddings, labels = embed_dataset(self.network, self.dataset)
        found = retrieval_metrics(embeddings, labels, ks=self.ks)
        for k in self.ks:
            logs[f"val_recall_at_{k}"] = float(found[f"recall_at_{k}"])
        logs["val_map_at_r"] = float(found["map_at_r"])
