"""Losses for fine-grained recognition: smoothed cross-entropy and metric learning.

Four losses, all serializable `keras.losses.Loss` subclasses written with
`keras.ops` only:

- `LabelSmoothingCrossEntropy`: cross-entropy against smoothed targets that
  takes integer labels *or* one-hot / soft labels (Keras 3 has label
  smoothing only in `CategoricalCrossentropy`, which needs one-hot labels).
- `ContrastiveLoss`: the pairwise margin loss of Hadsell et al. (2006) over
  every pair in the batch.
- `TripletLoss`: the triplet margin loss with online mining inside the batch,
  either batch-hard (Hermans et al., 2017) or semi-hard (Schroff et al., 2015).
- `symmetric_info_nce`: the CLIP-style contrastive loss of paired image and
  text embeddings with a learned temperature (a function: the temperature
  is a weight of the model that uses it).
- `BalancedBinaryCrossEntropy`: per-attribute binary cross-entropy in which
  positives and negatives of each attribute weigh the same in total, so rare
  attributes are not drowned by their absences (attribute prediction).

The metric-learning losses take `y_true` as integer class labels `[B]` (or
`[B, 1]`) and `y_pred` as embeddings `[B, D]`, and return one scalar per batch.
See `docs/losses.md` for the maths and for when to use which.
"""

import difflib

import keras
from keras import ops

_MINING = ("batch_hard", "semi_hard")


def _check_margin(margin):
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
        raise ValueError(f"`margin` must be a number >= 0. Received: margin={margin!r}")
    return float(margin)


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


def _flat_labels(y_true):
    """Integer labels `[B]` or `[B, 1]` as a flat vector `[B]`."""
    if len(y_true.shape) == 2 and y_true.shape[-1] not in (1, None):
        raise ValueError(
            "Metric-learning losses take integer class labels of shape [B] or [B, 1], "
            "not one-hot labels. Pass `ops.argmax(y, axis=-1)` instead. "
            f"Received: y_true.shape={tuple(y_true.shape)}"
        )
    return ops.reshape(y_true, (-1,))


def _embeddings(y_pred, normalize):
    if len(y_pred.shape) != 2:
        raise ValueError(
            f"`y_pred` must be embeddings of shape [B, D]. Received: y_pred.shape={y_pred.shape}"
        )
    if normalize:
        y_pred = ops.normalize(y_pred, axis=-1, order=2)
    return y_pred


def pairwise_squared_distances(x):
    """Squared Euclidean distances between the rows of `x` `[B, D]`, as `[B, B]`.

    Uses `|a|^2 + |b|^2 - 2 a.b`, clipped at 0, with an exact zero diagonal.

    >>> d2 = pairwise_squared_distances(ops.array([[0.0, 0.0], [3.0, 4.0]]))
    >>> ops.convert_to_numpy(d2).tolist()
    [[0.0, 25.0], [25.0, 0.0]]
    """
    sq = ops.sum(ops.square(x), axis=-1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * ops.matmul(x, ops.transpose(x))
    d2 = ops.maximum(d2, 0.0)
    return d2 * (1.0 - ops.eye(ops.shape(x)[0], dtype=x.dtype))


def safe_sqrt(x):
    """`sqrt(x)` whose gradient at `x == 0` is 0 instead of infinity/NaN.

    >>> ops.convert_to_numpy(safe_sqrt(ops.array([0.0, 4.0]))).tolist()
    [0.0, 2.0]
    """
    is_zero = ops.less_equal(x, 0.0)
    return ops.where(is_zero, 0.0, ops.sqrt(ops.where(is_zero, 1.0, x)))


def _masked_max(x, mask, axis=-1):
    """Max of `x` over `mask` along `axis`; the row minimum where the mask is empty."""
    low = ops.min(x, axis=axis, keepdims=True)
    return ops.max((x - low) * mask, axis=axis, keepdims=True) + low


def _masked_min(x, mask, axis=-1):
    """Min of `x` over `mask` along `axis`; the row maximum where the mask is empty."""
    high = ops.max(x, axis=axis, keepdims=True)
    return ops.min((x - high) * mask, axis=axis, keepdims=True) + high


def _safe_divide(total, count):
    return total / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package="fgkeras")
class LabelSmoothingCrossEntropy(keras.losses.Loss):
    """Cross-entropy with label smoothing, for integer or one-hot/soft labels.

    The target distribution is `q = (1 - eps) * y + eps / C`, where `y` is the
    one-hot (or soft) label and `C` the number of classes, and the loss is
    `-sum_c q_c log p_c` (Szegedy et al., 2016, "Rethinking the Inception
    Architecture", https://arxiv.org/abs/1512.00567, §7). Integer labels `[B]`
    or `[B, 1]` are one-hot encoded first, then the computation is exactly
    `keras.losses.CategoricalCrossentropy(label_smoothing=eps)`; one-hot or
    soft labels `[B, C]` (e.g. from MixUp/CutMix) are passed through as they
    are. So one loss serves a pipeline whether mixing is on or off.

    Args:
        label_smoothing: smoothing weight `eps` in `[0, 1]`; `0` gives plain
            cross-entropy. Defaults to `0.1`.
        from_logits: whether `y_pred` holds logits (fgkeras models return
            logits) rather than probabilities. Defaults to `True`.
        reduction: how per-example losses are combined, as in
            `keras.losses.Loss`. Defaults to `"sum_over_batch_size"`.
        name: name of the loss. Defaults to `"label_smoothing_cross_entropy"`.
        dtype: dtype of the computation. Defaults to `None` (`floatx()`).

    Example:

    >>> loss = LabelSmoothingCrossEntropy(label_smoothing=0.1)
    >>> logits = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    >>> round(float(loss([0, 1], logits)), 4)
    0.4955
    >>> round(float(loss([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], logits)), 4)
    0.4955
    """

    def __init__(
        self,
        label_smoothing=0.1,
        from_logits=True,
        reduction="sum_over_batch_size",
        name="label_smoothing_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if (
            isinstance(label_smoothing, bool)
            or not isinstance(label_smoothing, (int, float))
            or not 0.0 <= label_smoothing <= 1.0
        ):
            raise ValueError(
                f"`label_smoothing` must be a number in [0, 1]. "
                f"Received: label_smoothing={label_smoothing!r}"
            )
        self.label_smoothing = float(label_smoothing)
        self.from_logits = _check_bool("from_logits", from_logits)

    def call(self, y_true, y_pred):
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        num_classes = y_pred.shape[-1]
        sparse = len(y_true.shape) == len(y_pred.shape) - 1 or (
            len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1
        )
        if sparse:
            if len(y_true.shape) == len(y_pred.shape):
                y_true = ops.squeeze(y_true, axis=-1)
            depth = num_classes if num_classes is not None else ops.shape(y_pred)[-1]
            y_true = ops.one_hot(ops.cast(y_true, "int32"), depth, dtype=y_pred.dtype)
        elif len(y_true.shape) != len(y_pred.shape) or y_true.shape[-1] not in (
            num_classes,
            None,
        ):
            raise ValueError(
                "`y_true` must be integer labels [B] or [B, 1], or one-hot/soft labels "
                f"[B, C] matching `y_pred`. Received: y_true.shape={tuple(y_true.shape)}, "
                f"y_pred.shape={tuple(y_pred.shape)}"
            )
        return keras.losses.categorical_crossentropy(
            y_true,
            y_pred,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
        )

    def get_config(self):
        return {
            "label_smoothing": self.label_smoothing,
            "from_logits": self.from_logits,
            "reduction": self.reduction,
            "name": self.name,
            "dtype": self._dtype_policy.name,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class ContrastiveLoss(keras.losses.Loss):
    """Pairwise contrastive loss over all pairs of a batch of embeddings.

    For each pair `i < j` with distance `D_ij`, a pair of the same class pays
    `D_ij^2` (pull together) and a pair of different classes pays
    `max(0, margin - D_ij)^2` (push apart until `margin`). The batch loss is
    the mean over all `B (B - 1) / 2` pairs (Hadsell, Chopra and LeCun, 2006,
    "Dimensionality Reduction by Learning an Invariant Mapping",
    https://doi.org/10.1109/CVPR.2006.100; without their factor 1/2). A batch
    of one example has no pairs and gives 0.

    `y_true` holds integer class labels `[B]` or `[B, 1]`; `y_pred` holds
    embeddings `[B, D]`. The loss is one scalar per batch, so `sample_weight`
    only rescales it.

    Args:
        margin: distance beyond which different-class pairs cost nothing.
            Defaults to `1.0`.
        squared: whether `D` is the squared Euclidean distance instead of the
            Euclidean distance. Defaults to `False`.
        normalize: whether to L2-normalize the embeddings first, so distances
            lie in `[0, 2]`. Defaults to `False`.
        name: name of the loss. Defaults to `"contrastive_loss"`.
        dtype: dtype of the computation. Defaults to `None` (`floatx()`).

    Example:

    >>> loss = ContrastiveLoss(margin=1.0)
    >>> labels = [0, 0, 1]
    >>> embeddings = [[0.0, 0.0], [0.6, 0.0], [0.0, 0.8]]
    >>> round(float(loss(labels, embeddings)), 4)  # (0.36 + 0.04 + 0) / 3
    0.1333
    """

    def __init__(
        self, margin=1.0, squared=False, normalize=False, name="contrastive_loss", dtype=None
    ):
        super().__init__(name=name, reduction="sum_over_batch_size", dtype=dtype)
        self.margin = _check_margin(margin)
        self.squared = _check_bool("squared", squared)
        self.normalize = _check_bool("normalize", normalize)

    def call(self, y_true, y_pred):
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        labels = _flat_labels(y_true)
        x = _embeddings(y_pred, self.normalize)
        d2 = pairwise_squared_distances(x)
        d = d2 if self.squared else safe_sqrt(d2)
        pos_cost = ops.square(d2) if self.squared else d2
        neg_cost = ops.square(ops.relu(self.margin - d))
        batch = ops.shape(x)[0]
        upper = ops.triu(ops.ones((batch, batch), dtype=x.dtype), k=1)
        same = ops.cast(ops.equal(labels[:, None], labels[None, :]), x.dtype)
        total = ops.sum(upper * (same * pos_cost + (1.0 - same) * neg_cost))
        return _safe_divide(total, ops.sum(upper))

    def get_config(self):
        return {
            "margin": self.margin,
            "squared": self.squared,
            "normalize": self.normalize,
            "name": self.name,
            "dtype": self._dtype_policy.name,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class TripletLoss(keras.losses.Loss):
    """Triplet margin loss with online batch-hard or semi-hard mining.

    A triplet (anchor `a`, positive `p` of the same class, negative `n` of
    another class) costs `max(0, margin + D_ap - D_an)`. Triplets are mined
    inside the batch from the `[B, B]` distance matrix:

    - `"batch_hard"` (Hermans, Beyer and Leibe, 2017, "In Defense of the
      Triplet Loss for Person Re-Identification",
      https://arxiv.org/abs/1703.07737): each anchor takes its farthest
      positive and its closest negative; the loss is the mean over anchors
      that have at least one positive and one negative.
    - `"semi_hard"` (Schroff, Kalenichenko and Philbin, 2015, "FaceNet",
      https://arxiv.org/abs/1503.03832), with the semantics of TF Addons'
      `TripletSemiHardLoss`: every anchor-positive pair `(a, p)`, `a != p`,
      takes the closest negative farther than the positive
      (`D_an > D_ap`); if there is none, it falls back to the farthest
      negative. The loss is the mean over all anchor-positive pairs.

    Anchors without a positive in the batch contribute nothing, and a batch
    with no valid triplet gives 0, never NaN (TF Addons divides by zero there
    and, for a one-class batch, uses a negative distance of 0; we skip such
    anchors instead). Batches should therefore hold several examples per
    class (P classes x K images). Distances use a square root whose gradient
    is 0 at zero distance, so coincident embeddings are safe.

    `y_true` holds integer class labels `[B]` or `[B, 1]`; `y_pred` holds
    embeddings `[B, D]`. The loss is one scalar per batch, so `sample_weight`
    only rescales it.

    Args:
        margin: required gap between negative and positive distances.
            Ignored when `soft_margin=True`. Defaults to `1.0`.
        mining: `"batch_hard"` or `"semi_hard"`. Defaults to `"batch_hard"`.
        squared: whether to use squared Euclidean distances. Defaults to
            `False`.
        normalize: whether to L2-normalize the embeddings first (FaceNet
            does; then a margin around 0.2 to 0.5 suits). Defaults to `False`.
        soft_margin: whether to replace the hinge `max(0, margin + x)` by
            `log(1 + exp(x))`, the soft margin of Hermans et al. Defaults to
            `False`.
        name: name of the loss. Defaults to `"triplet_loss"`.
        dtype: dtype of the computation. Defaults to `None` (`floatx()`).

    Example:

    >>> loss = TripletLoss(margin=1.0, mining="batch_hard")
    >>> labels = [0, 0, 1, 1]
    >>> embeddings = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.5], [1.0, 1.5]]
    >>> round(float(loss(labels, embeddings)), 4)  # every anchor: 1 + 1 - 1.5
    0.5
    """

    def __init__(
        self,
        margin=1.0,
        mining="batch_hard",
        squared=False,
        normalize=False,
        soft_margin=False,
        name="triplet_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction="sum_over_batch_size", dtype=dtype)
        self.margin = _check_margin(margin)
        if mining not in _MINING:
            close = difflib.get_close_matches(str(mining), _MINING, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"`mining` must be one of {_MINING}.{hint} Received: mining={mining!r}"
            )
        self.mining = mining
        self.squared = _check_bool("squared", squared)
        self.normalize = _check_bool("normalize", normalize)
        self.soft_margin = _check_bool("soft_margin", soft_margin)

    def _cost(self, gap):
        """Cost of `gap = D_ap - D_an`."""
        if self.soft_margin:
            return ops.softplus(gap)
        return ops.relu(self.margin + gap)

    def call(self, y_true, y_pred):
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        labels = _flat_labels(y_true)
        x = _embeddings(y_pred, self.normalize)
        d2 = pairwise_squared_distances(x)
        d = d2 if self.squared else safe_sqrt(d2)
        batch = ops.shape(x)[0]
        same = ops.equal(labels[:, None], labels[None, :])
        is_neg = ops.logical_not(same)
        neg = ops.cast(is_neg, x.dtype)
        pos = ops.cast(same, x.dtype) - ops.eye(batch, dtype=x.dtype)
        has_neg = ops.cast(ops.max(neg, axis=1) > 0, x.dtype)  # [B]
        if self.mining == "batch_hard":
            hardest_pos = _masked_max(d, pos)[:, 0]
            hardest_neg = _masked_min(d, neg)[:, 0]
            valid = ops.cast(ops.max(pos, axis=1) > 0, x.dtype) * has_neg
            cost = self._cost(hardest_pos - hardest_neg)
            return _safe_divide(ops.sum(valid * cost), ops.sum(valid))
        # semi_hard: cube [a, p, n], True where n is a negative of a and D_an > D_ap.
        farther = ops.logical_and(is_neg[:, None, :], ops.greater(d[:, None, :], d[:, :, None]))
        cube = ops.broadcast_to(d[:, None, :], (batch, batch, batch))
        semi_hard = _masked_min(cube, ops.cast(farther, x.dtype))[..., 0]  # [a, p]
        fallback = _masked_max(d, neg)  # [a, 1], farthest negative
        chosen = ops.where(ops.any(farther, axis=-1), semi_hard, fallback)
        valid = pos * has_neg[:, None]
        cost = self._cost(d - chosen)
        return _safe_divide(ops.sum(valid * cost), ops.sum(valid))

    def get_config(self):
        return {
            "margin": self.margin,
            "mining": self.mining,
            "squared": self.squared,
            "normalize": self.normalize,
            "soft_margin": self.soft_margin,
            "name": self.name,
            "dtype": self._dtype_policy.name,
        }


@keras.saving.register_keras_serializable(package="fgkeras")
class BalancedBinaryCrossEntropy(keras.losses.Loss):
    """Binary cross-entropy over A attributes, each attribute's classes balanced.

    For attribute ``a`` present in a share ``p_a`` of the training images,
    positives weigh ``w⁺ = 1 / (2 p_a)`` and negatives ``w⁻ = 1 / (2 (1 −
    p_a))`` (the "balanced" class weights of scikit-learn), so both halves
    contribute equally in expectation and a rare attribute is not learned
    as "always absent"::

        L = mean_a mean_i −[w⁺_a t_ia log σ(z_ia) + w⁻_a (1 − t_ia) log(1 − σ(z_ia))]

    Args:
        positive_rates: ``p_a`` for each attribute (clipped to [0.01, 0.99]),
            or None for the plain, unweighted binary cross-entropy. Defaults
            to None.
        from_logits: ``y_pred`` are logits (True) or probabilities. Defaults to True.

    ``y_true`` ``[B, A]`` targets in [0, 1]; ``y_pred`` ``[B, A]``.

    >>> import numpy as np
    >>> loss = BalancedBinaryCrossEntropy(positive_rates=[0.5, 0.1])
    >>> round(float(loss(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))), 4)
    0.5391
    """

    def __init__(self, positive_rates=None, from_logits=True, name="balanced_bce", **kwargs):
        super().__init__(name=name, **kwargs)
        if positive_rates is not None:
            rates = [float(p) for p in positive_rates]
            if not rates or any(not 0.0 <= p <= 1.0 for p in rates):
                raise ValueError(
                    "`positive_rates` must be a non-empty list of shares in [0, 1], one per "
                    f"attribute. Received: positive_rates={positive_rates!r}"
                )
            positive_rates = rates
        self.positive_rates = positive_rates
        self.from_logits = _check_bool("from_logits", from_logits)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, y_pred.dtype)
        if self.from_logits:  # log σ(z) and log(1 − σ(z)), stable for large |z|
            log_p, log_not_p = -ops.softplus(-y_pred), -ops.softplus(y_pred)
        else:
            p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
            log_p, log_not_p = ops.log(p), ops.log(1.0 - p)
        if self.positive_rates is None:
            positive, negative = 1.0, 1.0
        else:
            rates = ops.clip(ops.convert_to_tensor(self.positive_rates, y_pred.dtype), 0.01, 0.99)
            positive, negative = 0.5 / rates, 0.5 / (1.0 - rates)
        terms = -(positive * y_true * log_p + negative * (1.0 - y_true) * log_not_p)
        return ops.mean(terms, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "positive_rates": self.positive_rates,
            "from_logits": self.from_logits,
        }


def symmetric_info_nce(image_embeddings, text_embeddings, logit_scale, labels=None):
    """The symmetric contrastive (InfoNCE) loss of paired image and text embeddings.

    Row ``i`` of each is one pair. With ``s = exp(logit_scale)`` and cosine
    similarities ``S = s · normalize(I) normalize(T)ᵀ``, each image must pick
    its own text among the batch's texts and each text its own image
    (Radford et al., "Learning Transferable Visual Models From Natural
    Language Supervision" (CLIP), ICML 2021, https://arxiv.org/abs/2103.00020;
    van den Oord et al. 2018 for InfoNCE)::

        L = ½ [ mean_i −log softmax_j(S)_ii + mean_i −log softmax_j(Sᵀ)_ii ]

    With ``labels``, pairs of the same class other than the diagonal are left
    out of the softmax: in fine-grained data two images of one class often
    carry the same description, and pushing them apart would be wrong.

    Args:
        image_embeddings: ``[B, D]``.
        text_embeddings: ``[B, D]``.
        logit_scale: scalar log of the inverse temperature (a learned weight).
        labels: ``[B]`` class labels, or None. Defaults to None.

    >>> import numpy as np
    >>> e = np.eye(3, 4, dtype="float32")
    >>> round(float(symmetric_info_nce(e, e, np.log(10.0))), 4)  # matched pairs: low loss
    0.0001
    >>> round(float(symmetric_info_nce(e, e[::-1], np.log(10.0))), 4) > 5  # mismatched: high
    True
    """
    images = _unit(ops.cast(image_embeddings, "float32"))
    texts = _unit(ops.cast(text_embeddings, "float32"))
    scale = ops.exp(ops.cast(logit_scale, "float32"))
    similarity = scale * ops.matmul(images, ops.transpose(texts))
    batch = ops.shape(similarity)[0]
    eye = ops.eye(batch, dtype="bool")
    if labels is not None:
        labels = _flat_labels(labels)
        same = ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
        # Same-class pairs off the diagonal leave the softmax (a very low logit).
        similarity = ops.where(ops.logical_and(same, ops.logical_not(eye)), -1e9, similarity)
    targets = ops.arange(batch)
    per_image = keras.losses.sparse_categorical_crossentropy(targets, similarity, from_logits=True)
    per_text = keras.losses.sparse_categorical_crossentropy(
        targets, ops.transpose(similarity), from_logits=True
    )
    return 0.5 * (ops.mean(per_image) + ops.mean(per_text))


def _unit(x):
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True)), 1e-12)


_ALIASES = {
    "label_smoothing_cross_entropy": LabelSmoothingCrossEntropy,
    "contrastive": ContrastiveLoss,
    "triplet": TripletLoss,
}


def get(identifier):
    """Returns a loss from a name, a config dict or a loss instance.

    Names are fgkeras' aliases (`"label_smoothing_cross_entropy"`,
    `"contrastive"`, `"triplet"`) built with default arguments; any other name
    or config goes to `keras.losses.get`, so `"sparse_categorical_crossentropy"`
    works too.

    Args:
        identifier: a loss name, a dict from `keras.saving.serialize_keras_object`,
            a `keras.losses.Loss`, or a callable. No default.

    Example:

    >>> get("triplet").mining
    'batch_hard'
    >>> get(keras.saving.serialize_keras_object(ContrastiveLoss(margin=0.5))).margin
    0.5
    """
    if isinstance(identifier, str) and identifier in _ALIASES:
        return _ALIASES[identifier]()
    try:
        loss = keras.losses.get(identifier)
    except (ValueError, TypeError):
        loss = None
    if loss is None:
        names = list(_ALIASES) + [
            n for n in dir(keras.losses) if not n.startswith("_") and n[0].islower()
        ]
        close = difflib.get_close_matches(str(identifier), names, n=3)
        hint = f" Close matches: {close}." if close else ""
        raise ValueError(
            f"Could not interpret loss identifier.{hint} Received: identifier={identifier!r}"
        )
    return loss
