"""`TrainConfig`: every option of `fgkeras.train`, typed and documented once.

`fgkeras.train(model, source, run_dir, **options)` builds one `TrainConfig`;
`fgkeras train` generates its flags from this class's fields and ``Args:``
docstring, so the command line, the function and the run's ``config.json``
say the same thing under the same names.
"""

from __future__ import annotations

import dataclasses
import difflib
import os

from fgkeras.checks import check_int
from fgkeras.training.run_dir import load_config_file

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "constant")
PRECISIONS = (None, "mixed_float16", "mixed_bfloat16")
SAMPLERS = ("auto", None, "balanced", "pk")
# Fields that change how a run is executed, not what it computes: they are
# left out of config.json so a resumed run may change them.
EXECUTION_ONLY = ("verbose", "cpu_replicas")


@dataclasses.dataclass
class TrainConfig:
    """The options of one training run (what ``RUN_DIR/config.json`` records).

    Args:
        model: registered model name. Defaults to "baseline".
        source: data source name for `fgkeras.data.load`. Defaults to "synthetic".
        run_dir: output folder. Defaults to "runs/<model>-<source>".
        backbone: backbone name; None keeps the model's default. Defaults to None.
        weights: backbone weights: "imagenet", None, a weights file, or a training run
            directory (its backbone.weights.h5: bring your own pretrained backbone).
            Defaults to "imagenet".
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
        ema_momentum: keep an exponential moving average (EMA) of the trainable
            weights, ``average = m * average + (1 - m) * weights`` after every
            step (Keras' optimizer ``use_ema``); the averaged weights are the
            ones validated each epoch (``val_*``, so the best checkpoint),
            saved in best.keras, last.keras and model.keras and evaluated in
            metrics.json. BatchNorm moving statistics are not averaged. None
            trains without. See docs/training.md. Defaults to None.
        loss: "auto" (the model card's), "cross_entropy", "triplet",
            "contrastive", "cross_entropy+triplet" or "cross_entropy+contrastive";
            metric losses train the L2-normalised embedding of single-pass
            models (see docs/losses.md). Defaults to "auto".
        loss_term_weights: weight of each loss term by name, e.g.
            ``{"triplet": 0.5}``; terms left out weigh 1.0. Defaults to None.
        metric_loss_options: arguments of the triplet or contrastive loss,
            e.g. ``{"margin": 0.3, "mining": "semi_hard"}``. Defaults to None.
        embedding_dim: a learned projection of the pooled features to this
            many dimensions (the embedding metric losses train, retrieval and
            galleries use); None keeps the pooled features. Defaults to None.
        sampler: None (shuffled), "balanced" (classes sampled uniformly), "pk"
            (batches of classes_per_batch x images_per_class), or "auto": "pk"
            for metric losses, else None. Defaults to "auto".
        classes_per_batch: P of P x K batches, per replica; None takes
            batch_size // images_per_class. Defaults to None.
        images_per_class: K of P x K batches. Defaults to 4.
        classes: train and validate on these classes only (names or indices
            of the source's classes); the rest stay unseen, e.g. for few-shot
            evaluation. Defaults to None.
        augment: augmentation policy ("none", "light", "fgvc", "strong") run
            on the device during training only. Defaults to "light".
        mixing: "mixup", "cutmix", "mixup_cutmix" or None (models whose card
            lacks the "mixing" capability refuse it). Defaults to None.
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

    >>> config = TrainConfig.resolve(model="bcnn", epochs=3)
    >>> config.epochs, config.run_dir
    (3, 'runs/bcnn-synthetic')
    >>> TrainConfig.resolve(epoch=3)
    Traceback (most recent call last):
    ...
    ValueError: Unknown training option 'epoch'. Did you mean: epochs? Received: epoch=3
    """

    model: str = "baseline"
    source: str = "synthetic"
    run_dir: str | None = None
    backbone: str | None = None
    weights: str | None = "imagenet"
    model_options: dict | None = None
    split: str = "train"
    val_split: str | None = "test"
    source_options: dict | None = None
    image_size: int | None = None
    resize_size: int | None = None
    batch_size: int = 32
    epochs: int = 10
    optimizer: str = "adamw"
    learning_rate: float = 1e-3
    warmup_epochs: float = 0.0
    schedule: str = "cosine"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    backbone_lr_multiplier: float = 1.0
    label_smoothing: float = 0.0
    ema_momentum: float | None = None
    loss: str = "auto"
    loss_term_weights: dict | None = None
    metric_loss_options: dict | None = None
    embedding_dim: int | None = None
    sampler: str | None = "auto"
    classes_per_batch: int | None = None
    images_per_class: int = 4
    classes: list | None = None
    augment: str = "light"
    mixing: str | None = None
    freeze_epochs: int = 0
    mixed_precision: str | None = None
    jit_compile: bool | str = "auto"
    distribute: str = "auto"
    cpu_replicas: int | None = None
    scale_learning_rate: bool = True
    seed: int = 0
    deterministic: bool = False
    limit: int | None = None
    verbose: int | str = "auto"

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of every option, in order.

        >>> TrainConfig.field_names()[:3]
        ['model', 'source', 'run_dir']
        """
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def resolve(cls, config: str | None = None, **given) -> TrainConfig:
        """Options given explicitly, over those of a config file, over the defaults.

        Only the options actually passed override the file: an explicit
        value equal to the default still wins over the file's.

        Args:
            config: a JSON or YAML file holding any options. Defaults to None.
            **given: options by name (unknown names are a ValueError).

        >>> TrainConfig.resolve(model="cbp", batch_size=8).batch_size
        8
        """
        names = cls.field_names()
        for key in given:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=2)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                raise ValueError(
                    f"Unknown training option {key!r}.{hint} Received: {key}={given[key]!r}"
                )
        from_file = load_config_file(config, allowed=set(names)) if config else {}
        resolved = cls(**{**from_file, **given})
        if resolved.run_dir is None:
            resolved.run_dir = os.path.join("runs", f"{resolved.model}-{resolved.source}")
        resolved.validate()
        return resolved

    def validate(self) -> None:
        """Check every option; raise ValueError naming the first bad one."""
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"`optimizer` must be one of {OPTIMIZERS}. Received: {self.optimizer!r}"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(f"`schedule` must be one of {SCHEDULES}. Received: {self.schedule!r}")
        check_int("epochs", self.epochs)
        check_int("batch_size", self.batch_size)
        check_int("freeze_epochs", self.freeze_epochs, minimum=0)
        check_int("image_size", self.image_size, allow_none=True)
        check_int("limit", self.limit, allow_none=True)
        if self.freeze_epochs > self.epochs:
            raise ValueError(
                f"`freeze_epochs` must be between 0 and epochs={self.epochs}. "
                f"Received: freeze_epochs={self.freeze_epochs!r}"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be positive. Received: {self.learning_rate!r}")
        if not self.backbone_lr_multiplier >= 0:
            raise ValueError(
                "`backbone_lr_multiplier` must be >= 0. "
                f"Received: backbone_lr_multiplier={self.backbone_lr_multiplier!r}"
            )
        check_ema_momentum(self.ema_momentum)
        check_int("embedding_dim", self.embedding_dim, allow_none=True)
        check_int("images_per_class", self.images_per_class)
        check_int("classes_per_batch", self.classes_per_batch, allow_none=True)
        objective = self.objective()
        if self.sampler not in SAMPLERS:
            raise ValueError(f"`sampler` must be one of {SAMPLERS}. Received: {self.sampler!r}")
        if objective.metric_term and self.mixing:
            raise ValueError(
                f"mixing={self.mixing!r} makes soft labels, and the {objective.metric_term} "
                "loss needs each image's class; leave mixing unset with metric losses."
            )
        if self.resolved_sampler() == "pk":
            self.pk_shape()
        if self.classes is not None and (isinstance(self.classes, str) or not list(self.classes)):
            raise ValueError(
                "`classes` must be a non-empty list of class names or indices. "
                f"Received: classes={self.classes!r}"
            )
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(
                f"`mixed_precision` must be one of {PRECISIONS}. Received: {self.mixed_precision!r}"
            )

    def objective(self):
        """The run's `fgkeras.training.objective.Objective` (loss terms and weights).

        >>> TrainConfig(loss="cross_entropy+triplet").objective().terms
        ('cross_entropy', 'triplet')
        """
        from fgkeras.training.objective import resolve_objective

        return resolve_objective(self.loss, self.loss_term_weights, self.metric_loss_options)

    def resolved_sampler(self) -> str | None:
        """The sampler "auto" stands for: "pk" with a metric loss, else None.

        >>> TrainConfig(loss="triplet").resolved_sampler(), TrainConfig().resolved_sampler()
        ('pk', None)
        """
        if self.sampler != "auto":
            return self.sampler
        return "pk" if self.objective().metric_term else None

    def pk_shape(self) -> tuple[int, int]:
        """(P, K) per replica for the "pk" sampler; P x K must equal batch_size.

        >>> TrainConfig(batch_size=32, images_per_class=4).pk_shape()
        (8, 4)
        """
        k = self.images_per_class
        p = self.classes_per_batch if self.classes_per_batch is not None else self.batch_size // k
        if p < 2 or p * k != self.batch_size:
            raise ValueError(
                "P x K batches need classes_per_batch x images_per_class == batch_size, with "
                "at least 2 classes per batch. Received: "
                f"batch_size={self.batch_size}, classes_per_batch={self.classes_per_batch}, "
                f"images_per_class={k}"
            )
        return p, k

    def record(self) -> dict:
        """What config.json stores: every option except execution-only ones.

        >>> "verbose" in TrainConfig().record(), TrainConfig().record()["epochs"]
        (False, 10)
        """
        values = dataclasses.asdict(self)
        return {key: value for key, value in values.items() if key not in EXECUTION_ONLY}


def check_ema_momentum(value) -> None:
    """Raise ValueError unless ``value`` is None or a number strictly between 0 and 1.

    >>> check_ema_momentum(0.999)
    >>> check_ema_momentum(1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `ema_momentum` must be None or a number between 0 and 1 (exclusive), ...
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise ValueError(
            "`ema_momentum` must be None or a number between 0 and 1 (exclusive), "
            f"e.g. 0.999. Received: ema_momentum={value!r}"
        )
