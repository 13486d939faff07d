"""`fgkeras.train`: fit a zoo model on a data source and write a run directory.

A run directory holds everything a run produced:

    RUN_DIR/config.json        the arguments of the run (the CLI can replay them)
    RUN_DIR/class_names.json   label index -> class name
    RUN_DIR/history.csv        per-epoch loss and metrics (appended across resumes)
    RUN_DIR/logs/              TensorBoard logs
    RUN_DIR/best.keras         the model with the best validation accuracy
    RUN_DIR/last.keras         the model after the last completed epoch
    RUN_DIR/model.keras        the final model
    RUN_DIR/metrics.json       evaluation on the validation split
    RUN_DIR/backup/            fault-tolerance state; removed when a run ends

Starting the same command again after an interruption resumes from the last
completed epoch (weights, optimizer state and epoch counter are restored by
`keras.callbacks.BackupAndRestore`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import keras

from fgkeras import distribute as distribute_lib
from fgkeras.registry import build, model_card
from fgkeras.run_config import load_config_file, run_config_matches, write_json
from fgkeras.trainer import Trainer, has_layer
from fgkeras.training_callbacks import (
    DivergenceError,
    SaveModel,
    StopOnNaN,
    phase_state,
    save_phase_state,
)

OPTIMIZERS = ("adamw", "sgd")


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: where it wrote, the model, history and metrics."""

    run_dir: str
    model: keras.Model
    history: dict
    metrics: dict
    class_names: list


def train(
    model: str = "baseline",
    source: str = "synthetic",
    run_dir: str | None = None,
    *,
    config: str | None = None,
    backbone: str | None = None,
    weights: str | None = "imagenet",
    model_options: dict | None = None,
    split: str = "train",
    val_split: str | None = "test",
    source_options: dict | None = None,
    image_size: int | None = None,
    resize_size: int | None = None,
    batch_size: int = 32,
    epochs: int = 10,
    optimizer: str = "adamw",
    learning_rate: float = 1e-3,
    warmup_epochs: float = 0.0,
    schedule: str = "cosine",
    weight_decay: float = 1e-4,
    momentum: float = 0.9,
    backbone_lr_multiplier: float = 1.0,
    label_smoothing: float = 0.0,
    augment: str = "light",
    mixing: str | None = None,
    freeze_epochs: int = 0,
    mixed_precision: str | None = None,
    jit_compile: bool | str = "auto",
    distribute: str = "auto",
    cpu_replicas: int | None = None,
    scale_learning_rate: bool = True,
    seed: int = 0,
    deterministic: bool = False,
    limit: int | None = None,
    verbose: int | str = "auto",
) -> TrainResult:
    """Train a registered model and write a resumable run directory.

    Args:
        model: registered model name. Defaults to "baseline".
        source: data source name for `fgkeras.data.load`. Defaults to "synthetic".
        run_dir: output folder. Defaults to "runs/<model>-<source>".
        config: a JSON (or YAML) file holding any of these arguments; explicit
            arguments override it. Defaults to None.
        backbone: backbone name; None keeps the model's default. Defaults to None.
        weights: backbone weights: "imagenet", None or a file. Defaults to "imagenet".
        model_options: more builder arguments (e.g. ``{"dropout": 0.2}``).
            Defaults to None.
        split: training split. Defaults to "train".
        val_split: split evaluated after each epoch and at the end, or None.
            Defaults to "test".
        source_options: extra arguments of the source (e.g. ``num_classes``,
            ``data_dir``). Defaults to None.
        image_size: input size; None takes the model card's. Defaults to None.
        resize_size: resize before cropping to ``image_size`` (random crop for
            training, center crop for evaluation); None resizes straight to
            ``image_size``. Defaults to None.
        batch_size: batch size per replica. Defaults to 32.
        epochs: total epochs, including ``freeze_epochs``. Defaults to 10.
        optimizer: "adamw" or "sgd" (with momentum). Defaults to "adamw".
        learning_rate: peak learning rate of the head (per replica batch, see
            ``scale_learning_rate``). Defaults to 1e-3.
        warmup_epochs: linear warmup length. Defaults to 0.0.
        schedule: "cosine" decay to zero after warmup, or "constant".
            Defaults to "cosine".
        weight_decay: decoupled weight decay. Defaults to 1e-4.
        momentum: SGD momentum. Defaults to 0.9.
        backbone_lr_multiplier: backbone learning rate relative to the head's.
            Defaults to 1.0.
        label_smoothing: cross-entropy label smoothing. Defaults to 0.0.
        augment: augmentation policy ("none", "light", "fgvc", "strong") run
            on the device during training only. Defaults to "light".
        mixing: "mixup", "cutmix", "mixup_cutmix" or None. Defaults to None.
        freeze_epochs: first train only the head with a frozen backbone for
            this many epochs (the B-CNN recipe), then everything. Defaults to 0.
        mixed_precision: None, "mixed_float16" or "mixed_bfloat16".
            Defaults to None.
        jit_compile: XLA compilation passed to `Model.compile`. Defaults to "auto".
        distribute: "auto", "none", "mirrored" or "multiworker". Defaults to "auto".
        cpu_replicas: split the CPU into this many devices (testing). Defaults to None.
        scale_learning_rate: multiply the learning rate by the number of
            replicas (linear scaling rule). Defaults to True.
        seed: random seed of weights, shuffling and augmentation. Defaults to 0.
        deterministic: make TensorFlow ops deterministic (slower). Defaults to False.
        limit: use only the first N examples of each split. Defaults to None.
        verbose: Keras `fit` verbosity. Defaults to "auto".

    Returns:
        A `TrainResult`.

    >>> result = train("baseline", "synthetic", run_dir=str(getfixture("tmp_path")),
    ...                backbone="tiny", weights=None, image_size=32, epochs=1,
    ...                batch_size=16, limit=32, verbose=0)
    >>> sorted(result.history), 0.0 <= result.metrics["top1_accuracy"] <= 1.0
    (['accuracy', 'loss', 'val_accuracy', 'val_loss'], True)
    """
    arguments = _resolve_arguments(locals())
    return _run(**arguments)


def _resolve_arguments(given: dict) -> dict:
    """Merge a config file under the explicitly given arguments."""
    arguments = dict(given)
    config_path = arguments.pop("config")
    if config_path:
        defaults = train.__kwdefaults__ | {"model": "baseline", "source": "synthetic"}
        from_file = load_config_file(config_path, allowed=set(arguments))
        for key, value in from_file.items():
            if arguments.get(key) == defaults.get(key, None):
                arguments[key] = value
    if arguments["run_dir"] is None:
        arguments["run_dir"] = os.path.join("runs", f"{arguments['model']}-{arguments['source']}")
    _check_arguments(arguments)
    return arguments


def _check_arguments(a: dict) -> None:
    if a["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"`optimizer` must be one of {OPTIMIZERS}. Received: {a['optimizer']!r}")
    if a["schedule"] not in ("cosine", "constant"):
        raise ValueError(f"`schedule` must be 'cosine' or 'constant'. Received: {a['schedule']!r}")
    if not (isinstance(a["epochs"], int) and a["epochs"] >= 1):
        raise ValueError(f"`epochs` must be a positive integer. Received: {a['epochs']!r}")
    if not 0 <= a["freeze_epochs"] <= a["epochs"]:
        raise ValueError(
            f"`freeze_epochs` must be between 0 and epochs={a['epochs']}. "
            f"Received: {a['freeze_epochs']!r}"
        )
    if not (isinstance(a["batch_size"], int) and a["batch_size"] >= 1):
        raise ValueError(f"`batch_size` must be a positive integer. Received: {a['batch_size']!r}")
    if not a["learning_rate"] > 0:
        raise ValueError(f"`learning_rate` must be positive. Received: {a['learning_rate']!r}")
    if a["mixed_precision"] not in (None, "mixed_float16", "mixed_bfloat16"):
        raise ValueError(
            "`mixed_precision` must be None, 'mixed_float16' or 'mixed_bfloat16'. "
            f"Received: {a['mixed_precision']!r}"
        )
    model_card(a["model"])  # unknown model names fail here, before any work


def _run(**a) -> TrainResult:
    import fgkeras.data as fdata

    start = time.time()
    strategy = distribute_lib.make_strategy(a["distribute"], a["cpu_replicas"])
    replicas = strategy.num_replicas_in_sync
    chief = distribute_lib.is_chief()
    run_dir = a["run_dir"] if chief else os.path.join(a["run_dir"], "workers", _task_id())
    _prepare_run_dir(run_dir, a)
    keras.utils.set_random_seed(a["seed"])
    if a["deterministic"]:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    if a["mixed_precision"]:
        keras.mixed_precision.set_global_policy(a["mixed_precision"])

    card = model_card(a["model"])
    image_size = a["image_size"] or card["data_config"]["input_size"][0]
    global_batch = a["batch_size"] * replicas
    common = dict(
        image_size=image_size,
        batch_size=global_batch,
        resize_size=a["resize_size"],
        seed=a["seed"],
        limit=a["limit"],
        **(a["source_options"] or {}),
    )
    train_data = fdata.load(a["source"], split=a["split"], mixing=a["mixing"], **common)
    val_data = fdata.load(a["source"], split=a["val_split"], **common) if a["val_split"] else None
    class_names = list(train_data.class_names)
    write_json(os.path.join(run_dir, "class_names.json"), class_names)
    steps_per_epoch = _count_batches(train_data)
    learning_rate = a["learning_rate"] * (replicas if a["scale_learning_rate"] else 1)

    with strategy.scope():
        net = build(a["model"], **_model_kwargs(a, len(class_names), image_size))
        augmenter = fdata.build_augmenter(a["augment"], seed=a["seed"])
    history = {}
    phases = _phases(a["epochs"], a["freeze_epochs"])
    for phase, (first_epoch, last_epoch, frozen) in enumerate(phases):
        state = phase_state(run_dir)
        if state.get("completed_phase", -1) >= phase:
            net.load_weights(os.path.join(run_dir, "backup", f"phase{phase}.weights.h5"))
            continue
        with strategy.scope():
            if has_layer(net, "backbone"):
                net.get_layer("backbone").trainable = not frozen
            trainer = _fit_model(net, augmenter, a, image_size)
            trainer.compile(
                optimizer=_optimizer(a, learning_rate, steps_per_epoch, first_epoch, last_epoch),
                loss=_loss(a["label_smoothing"], a["mixing"]),
                metrics=[_accuracy(a["mixing"])],
                jit_compile=a["jit_compile"],
            )
        fitted = trainer.fit(
            _augment_in_pipeline(train_data, augmenter) if trainer is net else train_data,
            validation_data=val_data,
            initial_epoch=first_epoch,
            epochs=last_epoch,
            callbacks=_callbacks(run_dir, phase, chief),
            verbose=a["verbose"],
            shuffle=False,  # the pipeline shuffles; Keras cannot shuffle a Dataset
        )
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(values)
        net.save_weights(os.path.join(run_dir, "backup", f"phase{phase}.weights.h5"))
        save_phase_state(run_dir, phase)

    net.save(os.path.join(run_dir, "model.keras"))
    metrics = _final_metrics(net, val_data, class_names, run_dir, chief)
    metrics["train_seconds"] = round(time.time() - start, 1)
    metrics["replicas"] = replicas
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    _cleanup_backup(run_dir)
    return TrainResult(run_dir, net, history, metrics, class_names)


def _prepare_run_dir(run_dir: str, arguments: dict) -> None:
    """Create the run directory; keep an interrupted run's state only if it matches."""
    config_path = os.path.join(run_dir, "config.json")
    backup = os.path.join(run_dir, "backup")
    record = {k: v for k, v in arguments.items() if k not in ("verbose", "cpu_replicas")}
    resuming = os.path.isdir(backup) and os.listdir(backup) and os.path.exists(config_path)
    if resuming and not run_config_matches(config_path, record):
        raise ValueError(
            f"{run_dir!r} holds an interrupted run with different arguments; resume it "
            "with the same arguments, or choose another run directory."
        )
    try:
        os.makedirs(backup, exist_ok=True)
        if not resuming:
            for stale in ("history.csv", "best.keras", "last.keras", "metrics.json"):
                if os.path.exists(os.path.join(run_dir, stale)):
                    os.remove(os.path.join(run_dir, stale))
        write_json(config_path, record)
    except OSError as error:
        raise PermissionError(f"Cannot write the run directory {run_dir!r}: {error}") from error


def _model_kwargs(a: dict, num_classes: int, image_size: int) -> dict:
    kwargs = {"num_classes": num_classes, "input_shape": (image_size, image_size, 3)}
    kwargs["weights"] = a["weights"]
    if a["backbone"] is not None:
        kwargs["backbone"] = a["backbone"]
    kwargs.update(a["model_options"] or {})
    return kwargs


def has_own_train_step(net) -> bool:
    """True for models whose multi-pass training lives in their own `train_step`.

    >>> import fgkeras
    >>> has_own_train_step(fgkeras.build("baseline", num_classes=2, backbone="tiny",
    ...                                  weights=None, input_shape=(16, 16, 3)))
    False
    """
    return type(net).train_step is not keras.Model.train_step


def _fit_model(net, augmenter, a: dict, image_size: int) -> keras.Model:
    """The model `fit` runs: the `Trainer` wrapper, or the net itself.

    Models with their own `train_step` (WS-DAN, RA-CNN, MA-CNN, two_stage)
    are fitted directly so that their multi-pass training runs; their
    augmentation then happens in the tf.data pipeline.
    """
    if not has_own_train_step(net):
        trainer = Trainer(net, augmenter, a["backbone_lr_multiplier"])
        trainer.build((None, image_size, image_size, 3))
        return trainer
    if a["backbone_lr_multiplier"] != 1.0:
        raise ValueError(
            f"Model {a['model']!r} trains with its own multi-pass train_step, which does not "
            "support backbone_lr_multiplier; leave it at 1.0. "
            f"Received: backbone_lr_multiplier={a['backbone_lr_multiplier']}"
        )
    return net


def _augment_in_pipeline(dataset, augmenter):
    return dataset.map(lambda images, labels: (augmenter(images, training=True), labels))


def _phases(epochs: int, freeze_epochs: int) -> list[tuple[int, int, bool]]:
    """(first epoch, end epoch, backbone frozen) of each training phase."""
    if freeze_epochs == 0:
        return [(0, epochs, False)]
    if freeze_epochs == epochs:
        return [(0, epochs, True)]
    return [(0, freeze_epochs, True), (freeze_epochs, epochs, False)]


def _count_batches(dataset) -> int:
    cardinality = int(dataset.cardinality())
    if cardinality > 0:
        return cardinality
    return sum(1 for _ in dataset)


def _optimizer(a, learning_rate, steps_per_epoch, first_epoch, last_epoch):
    total = max(1, (last_epoch - first_epoch) * steps_per_epoch)
    warmup = min(int(a["warmup_epochs"] * steps_per_epoch), total - 1)
    if a["schedule"] == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else learning_rate,
            decay_steps=total - warmup,
            warmup_target=learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    else:
        rate = learning_rate
    if a["optimizer"] == "sgd":
        return keras.optimizers.SGD(
            rate, momentum=a["momentum"], nesterov=True, weight_decay=a["weight_decay"] or None
        )
    return keras.optimizers.AdamW(rate, weight_decay=a["weight_decay"])


def _loss(label_smoothing: float, mixing):
    if mixing:
        return keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=label_smoothing
        )
    if label_smoothing:
        from fgkeras.losses import LabelSmoothingCrossEntropy

        return LabelSmoothingCrossEntropy(label_smoothing=label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _accuracy(mixing):
    if mixing:
        return keras.metrics.CategoricalAccuracy(name="accuracy")
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def _callbacks(run_dir: str, phase: int, chief: bool) -> list:
    callbacks = [
        StopOnNaN(),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup", f"phase{phase}")),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
    ]
    if chief:
        callbacks += [
            SaveModel(os.path.join(run_dir, "last.keras")),
            SaveModel(os.path.join(run_dir, "best.keras"), monitor="val_accuracy"),
            keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False),
        ]
    return callbacks


def _final_metrics(net, val_data, class_names, run_dir, chief) -> dict:
    if val_data is None:
        return {}
    from fgkeras.evaluation import evaluate

    return evaluate(
        net,
        val_data,
        class_names=class_names,
        out_dir=run_dir if chief else None,
        history_csv=os.path.join(run_dir, "history.csv"),
    )


def _cleanup_backup(run_dir: str) -> None:
    import shutil

    shutil.rmtree(os.path.join(run_dir, "backup"), ignore_errors=True)


def _task_id() -> str:
    task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
    return f"{task.get('type', 'worker')}{task.get('index', 0)}"


__all__ = ["DivergenceError", "TrainResult", "train"]
