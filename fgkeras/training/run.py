"""`fgkeras.train`: fit a zoo model on a data source and write a run directory.

A run directory holds everything a run produced:

    RUN_DIR/config.json        the arguments of the run (the CLI can replay them)
    RUN_DIR/class_names.json   label index -> class name
    RUN_DIR/history.csv        per-epoch loss and metrics (appended across resumes)
    RUN_DIR/logs/              TensorBoard logs
    RUN_DIR/best.keras         the model with the best validation accuracy
    RUN_DIR/last.keras         the model after the last completed epoch
    RUN_DIR/model.keras        the final model
    RUN_DIR/backbone.weights.h5  its backbone's weights, for weights=RUN_DIR (+ backbone.json)
    RUN_DIR/metrics.json       evaluation on the validation split
    RUN_DIR/backup/            fault-tolerance state; removed when a run ends

Starting the same command again after an interruption resumes from the last
completed epoch (weights, optimizer state and epoch counter are restored by
`keras.callbacks.BackupAndRestore`).

With ``ema_momentum`` the optimizer keeps an exponential moving average of
the trainable weights (Keras' ``use_ema``). `keras.callbacks.SwapEMAWeights`
puts the averaged weights into the model for each validation and at each
epoch's end, so ``val_*`` logs, ``best.keras`` and ``last.keras`` are the
averaged model's; ``fit`` leaves the averaged weights in the model when it
ends (``finalize_variable_values``), so ``model.keras`` and ``metrics.json``
are too. The backup is written before the swap: it holds the raw weights and
the optimizer's averages (and step count), so a resumed run carries the
same average on. With ``freeze_epochs`` each phase has its own optimizer,
hence its own average: the second phase starts from the first one's
averaged weights. See docs/training.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings

import keras
import numpy as np

from fgkeras.models.backbones import save_backbone_weights
from fgkeras.models.registry import build, model_card
from fgkeras.training import distribute as distribute_lib
from fgkeras.training.callbacks import (
    DivergenceError,
    SaveModel,
    StopOnNaN,
    phase_state,
    save_phase_state,
)
from fgkeras.training.config import TrainConfig
from fgkeras.training.run_dir import run_config_matches, write_json
from fgkeras.training.trainer import Trainer, has_layer


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: where it wrote, the model, history and metrics."""

    run_dir: str
    model: keras.Model
    history: dict
    metrics: dict
    class_names: list


def train(
    model: str | None = None,
    source: str | None = None,
    run_dir: str | None = None,
    *,
    config: str | TrainConfig | None = None,
    **options,
) -> TrainResult:
    """Train a registered model and write a resumable run directory.

    Every option is a field of `TrainConfig` (its docstring says what each
    means; ``fgkeras train --help`` shows the same text); the run's
    ``config.json`` records them.

    Args:
        model: registered model name; None takes the config's, else "baseline".
            Defaults to None.
        source: data source name; None takes the config's, else "synthetic".
            Defaults to None.
        run_dir: output folder; None takes "runs/<model>-<source>".
            Defaults to None.
        config: a JSON/YAML file or a `TrainConfig` holding any options;
            options passed here override it. Defaults to None.
        **options: the other fields of `TrainConfig` (``epochs``,
            ``batch_size``, ``backbone``, ...).

    Returns:
        A `TrainResult`.

    >>> result = train("baseline", "synthetic", run_dir=str(getfixture("tmp_path")),
    ...                backbone="tiny", weights=None, image_size=32, epochs=1,
    ...                batch_size=16, limit=32, verbose=0)
    >>> sorted(result.history), 0.0 <= result.metrics["top1_accuracy"] <= 1.0
    (['accuracy', 'loss', 'val_accuracy', 'val_loss'], True)
    """
    given = {"model": model, "source": source, "run_dir": run_dir}
    given = {key: value for key, value in given.items() if value is not None}
    if isinstance(config, TrainConfig):
        resolved = TrainConfig.resolve(**{**config.record(), **given, **options})
    else:
        resolved = TrainConfig.resolve(config, **given, **options)
    # Unknown models and options the model cannot honour fail here, before any work.
    _check_model_options(resolved, model_card(resolved.model))
    return _run(resolved)


def _run(c: TrainConfig) -> TrainResult:
    import fgkeras.data as fdata

    start = time.time()
    strategy = distribute_lib.make_strategy(c.distribute, c.cpu_replicas)
    replicas = strategy.num_replicas_in_sync
    chief = distribute_lib.is_chief()
    run_dir = c.run_dir if chief else os.path.join(c.run_dir, "workers", _task_id())
    _prepare_run_dir(run_dir, c)
    keras.utils.set_random_seed(c.seed)
    if c.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    if c.mixed_precision:
        keras.mixed_precision.set_global_policy(c.mixed_precision)

    card = model_card(c.model)
    image_size = c.image_size or card["data_config"]["input_size"][0]
    global_batch = c.batch_size * replicas
    common = dict(
        image_size=image_size,
        batch_size=global_batch,
        resize_size=c.resize_size,
        seed=c.seed,
        limit=c.limit,
        **(c.source_options or {}),
    )
    if c.classes is not None:
        common["classes"] = list(c.classes)
    features = data_features(card)
    if features:  # e.g. the attributes an attribute head trains on
        common["features"] = features
    train_data = fdata.load(
        c.source, split=c.split, mixing=c.mixing, **_sampler_options(c, replicas), **common
    )
    val_data = fdata.load(c.source, split=c.val_split, **common) if c.val_split else None
    objective = c.objective()
    class_names = list(train_data.class_names)
    write_json(os.path.join(run_dir, "class_names.json"), class_names)
    steps_per_epoch = _count_batches(train_data)
    learning_rate = c.learning_rate * (replicas if c.scale_learning_rate else 1)

    with strategy.scope():
        net = build(c.model, **_model_kwargs(c, len(class_names), image_size, train_data))
        augmenter = fdata.build_augmenter(c.augment, seed=c.seed)
    history = {}
    phases = _phases(c.epochs, c.freeze_epochs)
    for phase, (first_epoch, last_epoch, frozen) in enumerate(phases):
        state = phase_state(run_dir)
        if state.get("completed_phase", -1) >= phase:
            net.load_weights(os.path.join(run_dir, "backup", f"phase{phase}.weights.h5"))
            continue
        with strategy.scope():
            if has_layer(net, "backbone"):
                net.get_layer("backbone").trainable = not frozen
            trainer = Trainer(net, augmenter, c.backbone_lr_multiplier, objective)
            trainer.build((None, image_size, image_size, 3))
            trainer.compile(
                optimizer=_optimizer(c, learning_rate, steps_per_epoch, first_epoch, last_epoch),
                loss=_loss(c.label_smoothing, c.mixing),
                # A classifier no loss trains has no accuracy worth logging.
                metrics=[_accuracy(c.mixing)] if objective.has_classifier_loss else [],
                jit_compile=c.jit_compile,
            )
        fitted = trainer.fit(
            train_data,
            validation_data=val_data,
            initial_epoch=first_epoch,
            epochs=last_epoch,
            callbacks=_after_backup(
                _callbacks(run_dir, phase, chief, objective.monitor(card["monitor"])),
                _ema_callbacks(c) + _retrieval_callbacks(net, val_data, objective),
            ),
            verbose=c.verbose,
            shuffle=False,  # the pipeline shuffles; Keras cannot shuffle a Dataset
        )
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(values)
        net.save_weights(os.path.join(run_dir, "backup", f"phase{phase}.weights.h5"))
        save_phase_state(run_dir, phase)

    if not objective.has_classifier_loss:
        _set_prototype_classifiers(
            net,
            fdata.load(c.source, split=c.split, shuffle=False, **common),
            len(class_names),
            run_dir,
            chief,
        )
    net.save(os.path.join(run_dir, "model.keras"))
    # For other models on the same backbone to start from: weights=<this run directory>.
    save_backbone_weights(net, run_dir, {
        "backbone": c.backbone or f"the default of {c.model!r}", "model": c.model,
        "source": c.source, "classes": len(class_names), "epochs": c.epochs,
    })  # fmt: skip
    metrics = _final_metrics(net, val_data, class_names, run_dir, chief, objective)
    metrics["train_seconds"] = round(time.time() - start, 1)
    metrics["replicas"] = replicas
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    _cleanup_backup(run_dir)
    return TrainResult(run_dir, net, history, metrics, class_names)


def _prepare_run_dir(run_dir: str, config: TrainConfig) -> None:
    """Create the run directory; keep an interrupted run's state only if it matches."""
    config_path = os.path.join(run_dir, "config.json")
    backup = os.path.join(run_dir, "backup")
    record = config.record()
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


def _model_kwargs(c: TrainConfig, num_classes: int, image_size: int, data=None) -> dict:
    kwargs = {"num_classes": num_classes, "input_shape": (image_size, image_size, 3)}
    if "hierarchy" in model_card(c.model)["targets"] and "label_tree" not in (
        c.model_options or {}
    ):
        kwargs["label_tree"] = _label_tree(c, data)
    card = model_card(c.model)
    if "attributes" in card["targets"] or "attributes" in card["features"]:
        # Rates weigh an attribute loss; a side input only needs names and width.
        rates = "attributes" in card["targets"]
        kwargs.update(_attribute_options(data, c.model_options or {}, rates=rates))
    if "text" in model_card(c.model)["features"]:
        kwargs.update(_text_options(c, data, c.model_options or {}))
    if "zero_shot" in model_card(c.model)["capabilities"] and "class_attributes" not in (
        c.model_options or {}
    ):
        kwargs["class_attributes"] = _class_attributes(c, data)
    kwargs["weights"] = c.weights
    if c.embedding_dim is not None:
        kwargs["embedding_dim"] = c.embedding_dim
    if c.backbone is not None:
        kwargs["backbone"] = c.backbone
    kwargs.update(c.model_options or {})
    return kwargs


def _label_tree(c: TrainConfig, data) -> dict:
    """The config of the training source's label tree, for models that target "hierarchy"."""
    from fgkeras.data.label_tree import LabelTree

    tree = LabelTree.from_source_info(getattr(data, "source_info", {}), data.class_names)
    if tree is None:
        raise ValueError(
            f"Model {c.model!r} decodes a label tree and source {c.source!r} has no class "
            "hierarchy (no class_ancestors in its source_info). Use a source with one "
            "(synthetic, fgvc_aircraft, fashion_mnist, oxford_iiit_pet) or give one: "
            'source_options={"label_tree": {"<class>": "<parent>", ...}}.'
        )
    return tree.to_config()


def data_features(card: dict) -> tuple:
    """The data features a model needs besides the image and label: its card's
    extra ``features`` and its ``targets`` that are data features (``attributes``).

    >>> data_features({"features": ["image"], "targets": ["label", "attributes"]})
    ('attributes',)
    >>> data_features({"features": ["image"], "targets": ["label", "hierarchy"]})
    ()
    """
    from fgkeras.data.base import FEATURE_KEYS

    # "hierarchy" targets are read from the label and the model's own tree.
    wanted = [f for f in card["features"] if f != "image"]
    wanted += [t for t in card["targets"] if t in FEATURE_KEYS and t != "hierarchy"]
    return tuple(dict.fromkeys(wanted))


def _attribute_options(data, options: dict, rates: bool = True) -> dict:
    """Attribute names, count and (with ``rates``) positive rates of the training
    source, for an attribute head or a side input."""
    info = getattr(data, "source_info", {})
    found = {}
    names = info.get("attribute_names")
    if names is not None and "attribute_names" not in options:
        found["attribute_names"] = list(names)
    if "num_attributes" not in options:
        found["num_attributes"] = int(data.element_spec[0]["attributes"].shape[-1])
    table = info.get("class_attributes")
    if rates and table is not None and "attribute_rates" not in options:
        # The share of images with each attribute, classes weighed alike.
        found["attribute_rates"] = np.asarray(table, np.float64).mean(axis=0).tolist()
    return found


def _text_options(c: TrainConfig, data, options: dict) -> dict:
    """The text encoder's vocabulary (training descriptions' words) and the class descriptions."""
    from fgkeras.layers.text_encoder import build_vocabulary

    found = {}
    descriptions = getattr(data, "source_info", {}).get("class_descriptions")
    if descriptions is not None and "class_descriptions" not in options:
        found["class_descriptions"] = descriptions
    if "vocabulary" not in options:
        texts = _training_texts(c)
        for group in descriptions or []:
            texts.extend([group] if isinstance(group, str) else group)
        found["vocabulary"] = build_vocabulary(texts)
    return found


def _training_texts(c: TrainConfig) -> list:
    """The ``text`` of the training examples (after the class filter and limit)."""
    from fgkeras.data.pipeline import select_classes
    from fgkeras.data.sources import get_examples

    examples = get_examples(c.source, c.split, **(c.source_options or {}))
    examples = select_classes(examples, c.classes).take(c.limit)
    if examples.table is not None:
        return [_as_text(t) for t in examples.table["text"]]
    return [_as_text(e["text"].numpy()) for e in examples.stream]


def _as_text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _class_attributes(c: TrainConfig, data) -> list:
    """The training classes' attribute vectors, for models that recognise classes by them."""
    table = getattr(data, "source_info", {}).get("class_attributes")
    if table is None:
        raise ValueError(
            f"Model {c.model!r} scores classes by their attribute vectors and source "
            f"{c.source!r} has none (no class_attributes in its source_info). Use a source "
            "with class attributes (synthetic; cub200_raw with attributes/"
            "class_attribute_labels_continuous.txt) or give the table: "
            'model_options={"class_attributes": [[...], ...]} (one row per class).'
        )
    return table


def _check_model_options(c: TrainConfig, card: dict) -> None:
    """Refuse options the model cannot honour, saying why."""
    multi_pass = "multi_pass" in card["capabilities"]
    metric_term = c.objective().metric_term
    if multi_pass and (metric_term or c.embedding_dim is not None):
        what = f"loss={c.loss!r}" if metric_term else f"embedding_dim={c.embedding_dim!r}"
        raise ValueError(
            f"Model {c.model!r} cannot train with {what}: metric losses and embedding "
            "projections are for single-pass models, and this one trains several passes "
            "with its own losses. Use one of the single-pass models: "
            "fgkeras list shows their capabilities."
        )
    if c.mixing and "mixing" not in card["capabilities"]:
        raise ValueError(
            f"Model {c.model!r} cannot train with mixing={c.mixing!r}: its extra training "
            "losses need integer labels, and MixUp/CutMix make soft labels. Leave mixing "
            "unset for this model."
        )


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


def _optimizer(c, learning_rate, steps_per_epoch, first_epoch, last_epoch):
    total = max(1, (last_epoch - first_epoch) * steps_per_epoch)
    warmup = min(int(c.warmup_epochs * steps_per_epoch), total - 1)
    if c.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else learning_rate,
            decay_steps=total - warmup,
            warmup_target=learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    else:
        rate = learning_rate
    ema = _ema_options(c.ema_momentum, total)
    if c.optimizer == "sgd":
        return keras.optimizers.SGD(
            rate, momentum=c.momentum, nesterov=True, weight_decay=c.weight_decay or None, **ema
        )
    return keras.optimizers.AdamW(rate, weight_decay=c.weight_decay, **ema)


def _ema_options(momentum, steps: int) -> dict:
    """Keras' optimizer EMA arguments (``{}`` without EMA).

    Keras starts the average at the weights after the first step, without
    bias correction, so an average spanning more steps (``1 / (1 - momentum)``)
    than the phase has stays close to the early weights: that is warned about.
    """
    if momentum is None:
        return {}
    horizon = 1.0 / (1.0 - momentum)
    if horizon > steps:
        warnings.warn(
            f"ema_momentum={momentum} averages over about {horizon:.0f} steps and this "
            f"training phase has {steps}: the averaged weights stay close to the first "
            f"steps'. Use a smaller ema_momentum (e.g. {1 - 10 / max(steps, 20):.2f}) or "
            "train longer.",
            stacklevel=3,
        )
    return {"use_ema": True, "ema_momentum": float(momentum)}


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


def _callbacks(run_dir: str, phase: int, chief: bool, monitor: str) -> list:
    callbacks = [
        StopOnNaN(),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup", f"phase{phase}")),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
    ]
    if chief:
        callbacks += [
            SaveModel(os.path.join(run_dir, "last.keras")),
            SaveModel(os.path.join(run_dir, "best.keras"), monitor=monitor),
            keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False),
        ]
    return callbacks


def _after_backup(callbacks: list, inserted: list) -> list:
    """``callbacks`` with ``inserted`` right after `keras.callbacks.BackupAndRestore`.

    So the backup is written before an EMA swap (it keeps the raw weights and
    the optimizer's averages), and the inserted callbacks act before the logs
    are written and the checkpoints chosen (``SaveModel`` reads ``monitor``).
    """
    at = 1 + next(
        i for i, cb in enumerate(callbacks) if isinstance(cb, keras.callbacks.BackupAndRestore)
    )
    return callbacks[:at] + list(inserted) + callbacks[at:]


def _ema_callbacks(c: TrainConfig) -> list:
    """With ``ema_momentum``: validation, logs and checkpoints see the averaged weights."""
    if c.ema_momentum is None:
        return []
    return [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)]


def _sampler_options(c: TrainConfig, replicas: int) -> dict:
    """``fgkeras.data.load`` sampler arguments of the training split.

    P x K is per replica: the global batch holds ``P * replicas`` classes of
    K images, laid out class by class, so each replica's slice holds whole
    classes and batch-hard mining finds its positives.
    """
    sampler = c.resolved_sampler()
    if sampler != "pk":
        return {"sampler": sampler}
    p, k = c.pk_shape()
    return {"sampler": "pk", "classes_per_batch": p * replicas, "images_per_class": k}


def _set_prototype_classifiers(net, train_images, num_classes, run_dir, chief) -> None:
    """Metric loss alone: classify by class prototypes, in the final and saved models."""
    from fgkeras.training.prototypes import set_prototype_classifier

    set_prototype_classifier(net, train_images, num_classes)
    if not chief:
        return
    net.save(os.path.join(run_dir, "last.keras"))
    best_path = os.path.join(run_dir, "best.keras")
    if os.path.exists(best_path):
        best = keras.models.load_model(best_path)
        set_prototype_classifier(best, train_images, num_classes)
        best.save(best_path)


def _retrieval_callbacks(net, val_data, objective) -> list:
    if val_data is None or objective.metric_term is None:
        return []
    from fgkeras.training.callbacks import RetrievalMonitor

    return [RetrievalMonitor(net, val_data)]


def _final_metrics(net, val_data, class_names, run_dir, chief, objective) -> dict:
    if val_data is None:
        return {}
    from fgkeras.evaluation.evaluator import evaluate

    metrics = evaluate(
        net,
        val_data,
        class_names=class_names,
        out_dir=run_dir if chief else None,
        history_csv=os.path.join(run_dir, "history.csv"),
        retrieval=objective.metric_term is not None,
    )
    metrics["loss"] = "+".join(objective.terms)
    return metrics


def _cleanup_backup(run_dir: str) -> None:
    import shutil

    shutil.rmtree(os.path.join(run_dir, "backup"), ignore_errors=True)


def _task_id() -> str:
    task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
    return f"{task.get('type', 'worker')}{task.get('index', 0)}"


__all__ = ["DivergenceError", "TrainResult", "train"]
