"""Tests for fgkeras.losses: NumPy references, hand-made cases, contract checks."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from fgkeras import losses

# ---------------------------------------------------------------------------
# NumPy references, written as plainly as the maths in docs/losses.md.


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_smoothed_ce(y, logits, eps):
    """Mean over the batch of -sum_c q_c log p_c, q = (1 - eps) y + eps / C."""
    y = np.asarray(y, np.float64)
    q = (1.0 - eps) * y + eps / y.shape[-1]
    return float(np.mean(-(q * np_log_softmax(np.asarray(logits, np.float64))).sum(-1)))


def np_dist(x, squared=False, normalize=False):
    x = np.asarray(x, np.float64)
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-7)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return d2 if squared else np.sqrt(d2)


def np_contrastive(labels, x, margin, squared=False, normalize=False):
    d = np_dist(x, squared, normalize)
    costs = []
    for i, j in itertools.combinations(range(len(labels)), 2):
        if labels[i] == labels[j]:
            costs.append(d[i, j] ** 2)
        else:
            costs.append(max(0.0, margin - d[i, j]) ** 2)
    return float(np.mean(costs)) if costs else 0.0


def np_batch_hard(labels, x, margin, squared=False, soft=False):
    d = np_dist(x, squared)
    n = len(labels)
    costs = []
    for a in range(n):
        pos = [d[a, p] for p in range(n) if p != a and labels[p] == labels[a]]
        neg = [d[a, k] for k in range(n) if labels[k] != labels[a]]
        if pos and neg:
            gap = max(pos) - min(neg)
            costs.append(np.log1p(np.exp(gap)) if soft else max(0.0, margin + gap))
    return float(np.mean(costs)) if costs else 0.0


def np_semi_hard(labels, x, margin, squared=False):
    """The loop of TF Addons' own test for TripletSemiHardLoss."""
    d = np_dist(x, squared)
    n = len(labels)
    total, count = 0.0, 0
    for a in range(n):
        negs = sorted(d[a, k] for k in range(n) if labels[k] != labels[a])
        if not negs:
            continue
        for p in range(n):
            if p == a or labels[p] != labels[a]:
                continue
            count += 1
            chosen = negs[0]
            for chosen in negs:  # the first farther than the positive, else the last
                if chosen > d[a, p]:
                    break
            total += max(0.0, margin + d[a, p] - chosen)
    return total / count if count else 0.0


def value(loss, y_true, y_pred):
    return float(loss(np.asarray(y_true), np.asarray(y_pred, np.float32)))


def random_batch(seed, classes=4, per_class=3, dim=5):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), per_class)
    rng.shuffle(labels)
    return labels, rng.normal(size=(len(labels), dim)).astype(np.float32)


# ---------------------------------------------------------------------------
# LabelSmoothingCrossEntropy

LOGITS = np.array([[2.0, 0.0, -1.0, 0.5], [0.1, 0.2, 3.0, -2.0], [1.0, 1.0, 1.0, 1.0]], np.float32)
LABELS = np.array([0, 2, 3])
ONE_HOT = np.eye(4, dtype=np.float32)[LABELS]


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize(
    "y_true", [LABELS, LABELS[:, None], ONE_HOT], ids=["int", "int_column", "one_hot"]
)
def test_label_smoothing_matches_numpy(y_true, eps):
    loss = losses.LabelSmoothingCrossEntropy(label_smoothing=eps)
    assert value(loss, y_true, LOGITS) == pytest.approx(np_smoothed_ce(ONE_HOT, LOGITS, eps), 1e-5)


def test_label_smoothing_hand_case():
    # C = 2, logits [0, 0]: p = (1/2, 1/2), so the loss is log 2 whatever the smoothing.
    loss = losses.LabelSmoothingCrossEntropy(label_smoothing=0.3)
    assert value(loss, [1], [[0.0, 0.0]]) == pytest.approx(np.log(2.0), 1e-6)
    # eps = 1: the target is uniform, the loss is the mean of -log p_c.
    loss = losses.LabelSmoothingCrossEntropy(label_smoothing=1.0)
    logp = np_log_softmax(np.array([[1.0, 0.0, 0.0]]))
    assert value(loss, [0], [[1.0, 0.0, 0.0]]) == pytest.approx(-logp.mean(), 1e-6)


def test_label_smoothing_equals_keras_categorical():
    ours = losses.LabelSmoothingCrossEntropy(label_smoothing=0.2)
    keras_loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    assert value(ours, LABELS, LOGITS) == pytest.approx(float(keras_loss(ONE_HOT, LOGITS)), 1e-6)
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ours = losses.LabelSmoothingCrossEntropy(label_smoothing=0.0)
    assert value(ours, LABELS, LOGITS) == pytest.approx(float(plain(LABELS, LOGITS)), 1e-6)


def test_label_smoothing_soft_labels_and_probabilities():
    soft = 0.7 * ONE_HOT + 0.3 * ONE_HOT[::-1]  # what MixUp yields
    loss = losses.LabelSmoothingCrossEntropy(label_smoothing=0.1)
    assert value(loss, soft, LOGITS) == pytest.approx(np_smoothed_ce(soft, LOGITS, 0.1), 1e-5)
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(LOGITS))
    loss = losses.LabelSmoothingCrossEntropy(label_smoothing=0.1, from_logits=False)
    assert value(loss, LABELS, probs) == pytest.approx(np_smoothed_ce(ONE_HOT, LOGITS, 0.1), 1e-4)


def test_label_smoothing_in_graph_with_unknown_batch():
    loss = losses.LabelSmoothingCrossEntropy(label_smoothing=0.1)
    fn = tf.function(
        loss,
        input_signature=[
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, 4], tf.float32),
        ],
    )
    got = float(fn(tf.constant(LABELS, tf.int32), tf.constant(LOGITS)))
    assert got == pytest.approx(np_smoothed_ce(ONE_HOT, LOGITS, 0.1), 1e-5)


def test_label_smoothing_mismatched_labels_raise():
    loss = losses.LabelSmoothingCrossEntropy()
    with pytest.raises(ValueError, match="Received: y_true.shape"):
        loss(np.zeros((3, 5), np.float32), LOGITS)


# ---------------------------------------------------------------------------
# ContrastiveLoss


def test_contrastive_hand_case():
    # Pairs: (0,1) positive at d = 0.6 -> 0.36; (0,2) negative at d = 0.8 -> 0.2^2;
    # (1,2) negative at d = 1 -> 0. Mean over 3 pairs.
    loss = losses.ContrastiveLoss(margin=1.0)
    got = value(loss, [0, 0, 1], [[0.0, 0.0], [0.6, 0.0], [0.0, 0.8]])
    assert got == pytest.approx((0.36 + 0.04 + 0.0) / 3, 1e-6)
    loss = losses.ContrastiveLoss(margin=2.0, squared=True)  # D = d^2: 0.36^2, (2-0.64)^2, (2-1)^2
    got = value(loss, [0, 0, 1], [[0.0, 0.0], [0.6, 0.0], [0.0, 0.8]])
    assert got == pytest.approx((0.36**2 + 1.36**2 + 1.0) / 3, 1e-5)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_contrastive_matches_numpy(seed, squared, normalize):
    labels, x = random_batch(seed)
    loss = losses.ContrastiveLoss(margin=2.5, squared=squared, normalize=normalize)
    expected = np_contrastive(labels, x, 2.5, squared, normalize)
    assert value(loss, labels, x) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_contrastive_single_example_is_zero():
    assert value(losses.ContrastiveLoss(), [3], [[1.0, 2.0]]) == 0.0


# ---------------------------------------------------------------------------
# TripletLoss

# 1-D embeddings; labels 0 0 1 1 at positions 0, 1, 0.5, 3.
HAND_LABELS = [0, 0, 1, 1]
HAND_X = [[0.0], [1.0], [0.5], [3.0]]


def test_triplet_batch_hard_hand_case():
    # anchor: (hardest positive, hardest negative) = (1, .5), (1, .5), (2.5, .5), (2.5, 2)
    # costs with margin 1: 1.5, 1.5, 3, 1.5
    loss = losses.TripletLoss(margin=1.0, mining="batch_hard")
    assert value(loss, HAND_LABELS, HAND_X) == pytest.approx(7.5 / 4, 1e-6)


def test_triplet_semi_hard_hand_case():
    # (a, p): D_ap, negatives of a -> chosen negative -> cost
    # (0, 1): 1,   {.5, 3} -> 3 (closest farther)     -> 0
    # (1, 0): 1,   {.5, 2} -> 2                       -> 0
    # (2, 3): 2.5, {.5, .5} -> none farther: .5       -> 3
    # (3, 2): 2.5, {3, 2} -> 3                        -> .5
    loss = losses.TripletLoss(margin=1.0, mining="semi_hard")
    assert value(loss, HAND_LABELS, HAND_X) == pytest.approx(3.5 / 4, 1e-6)
    assert np_semi_hard(HAND_LABELS, np.array(HAND_X), 1.0) == pytest.approx(3.5 / 4)


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
def test_triplet_anchor_without_positive_is_skipped(mining):
    # Class 1 has one example: as an anchor it has no triplet. The other anchors
    # each take D_ap = 1 against D_an = .5, so the loss is 1 + 1 - .5 = 1.5.
    loss = losses.TripletLoss(margin=1.0, mining=mining)
    assert value(loss, [0, 0, 1], [[0.0], [1.0], [0.5]]) == pytest.approx(1.5, 1e-6)


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
@pytest.mark.parametrize(
    "labels", [[0, 1, 2, 3], [5, 5, 5, 5]], ids=["no_positives", "no_negatives"]
)
def test_triplet_without_any_triplet_is_zero(mining, labels):
    loss = losses.TripletLoss(mining=mining)
    assert value(loss, labels, np.arange(8.0).reshape(4, 2)) == 0.0


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_batch_hard_matches_numpy(seed, squared):
    labels, x = random_batch(seed)
    loss = losses.TripletLoss(margin=0.7, mining="batch_hard", squared=squared)
    assert value(loss, labels, x) == pytest.approx(np_batch_hard(labels, x, 0.7, squared), 1e-4)


def test_triplet_soft_margin_matches_numpy():
    labels, x = random_batch(3)
    loss = losses.TripletLoss(mining="batch_hard", soft_margin=True)
    assert value(loss, labels, x) == pytest.approx(np_batch_hard(labels, x, 0, soft=True), 1e-4)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_semi_hard_matches_numpy(seed, squared):
    labels, x = random_batch(seed, classes=3, per_class=4)
    margin = 4.0 if squared else 1.0  # large enough that the fallback branch is used too
    loss = losses.TripletLoss(margin=margin, mining="semi_hard", squared=squared)
    expected = np_semi_hard(labels, x, margin, squared)
    assert value(loss, labels, x) == pytest.approx(expected, 1e-4)


def test_triplet_normalize_equals_prenormalized():
    labels, x = random_batch(4)
    unit = x / np.linalg.norm(x, axis=-1, keepdims=True)
    for mining in ["batch_hard", "semi_hard"]:
        a = value(losses.TripletLoss(0.3, mining, normalize=True), labels, x)
        b = value(losses.TripletLoss(0.3, mining), labels, unit)
        assert a == pytest.approx(b, 1e-5)


# ---------------------------------------------------------------------------
# Numerical safety, contracts, Keras integration

METRIC_LOSSES = [
    losses.ContrastiveLoss(),
    losses.ContrastiveLoss(squared=True, normalize=True),
    losses.TripletLoss(mining="batch_hard"),
    losses.TripletLoss(mining="semi_hard"),
    losses.TripletLoss(mining="semi_hard", normalize=True, soft_margin=True),
]


@pytest.mark.parametrize("loss", METRIC_LOSSES, ids=lambda loss: str(loss.get_config()))
@pytest.mark.parametrize("kind", ["duplicates", "all_zero"])
def test_gradient_finite_at_coincident_embeddings(loss, kind):
    labels = np.array([0, 0, 1, 1])
    if kind == "duplicates":
        x = tf.Variable([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [-1.0, 0.5]])
    else:
        x = tf.Variable(tf.zeros((4, 3)))
    with tf.GradientTape() as tape:
        out = loss(labels, x)
    grad = tape.gradient(out, x)
    assert np.isfinite(float(out))
    assert np.all(np.isfinite(grad.numpy()))


def test_safe_sqrt_gradient():
    x = tf.Variable([0.0, 4.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(losses.safe_sqrt(x))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.0, 0.25])


ALL_LOSSES = [
    losses.LabelSmoothingCrossEntropy(label_smoothing=0.2, from_logits=False, reduction="sum"),
    losses.ContrastiveLoss(margin=0.5, squared=True, normalize=True, name="c"),
    losses.TripletLoss(margin=0.2, mining="semi_hard", squared=True, normalize=True),
]


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_config_round_trip(loss):
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss) and restored.get_config() == config


@pytest.mark.parametrize(
    "make",
    [
        lambda: losses.LabelSmoothingCrossEntropy(label_smoothing=1.5),
        lambda: losses.LabelSmoothingCrossEntropy(from_logits="yes"),
        lambda: losses.ContrastiveLoss(margin=-1.0),
        lambda: losses.ContrastiveLoss(squared=1),
        lambda: losses.TripletLoss(mining="hard"),
        lambda: losses.TripletLoss(margin="1"),
    ],
)
def test_bad_arguments_raise(make):
    with pytest.raises(ValueError, match="Received:"):
        make()


def test_metric_losses_reject_one_hot_labels():
    with pytest.raises(ValueError, match="integer class labels"):
        losses.TripletLoss()(np.eye(3, dtype=np.float32), np.zeros((3, 2), np.float32))


def test_get():
    assert isinstance(losses.get("contrastive"), losses.ContrastiveLoss)
    assert isinstance(losses.get("triplet"), losses.TripletLoss)
    assert losses.get(ALL_LOSSES[2]) is ALL_LOSSES[2]
    config = keras.saving.serialize_keras_object(ALL_LOSSES[1])
    assert losses.get(config).get_config() == ALL_LOSSES[1].get_config()
    assert losses.get("sparse_categorical_crossentropy") is not None
    with pytest.raises(ValueError, match="Close matches.*triplet"):
        losses.get("triplett")


def tiny_model(outputs):
    inputs = keras.Input((6,))
    return keras.Model(inputs, keras.layers.Dense(outputs)(inputs))


FIT_CASES = [
    (losses.LabelSmoothingCrossEntropy(), 4, "int"),
    (losses.LabelSmoothingCrossEntropy(), 4, "one_hot"),
    (losses.ContrastiveLoss(normalize=True), 3, "int"),
    (losses.TripletLoss(mining="batch_hard"), 3, "int"),
    (losses.TripletLoss(mining="semi_hard", normalize=True, margin=0.2), 3, "int"),
]


@pytest.mark.parametrize(
    "loss, outputs, labels",
    FIT_CASES,
    ids=["ce_int", "ce_one_hot", "contrastive", "triplet_batch_hard", "triplet_semi_hard"],
)
def test_compile_fit_and_keras_round_trip(loss, outputs, labels, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6)).astype(np.float32)
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    if labels == "one_hot":
        y = np.eye(4, dtype=np.float32)[y]
    model = tiny_model(outputs)
    model.compile(optimizer="sgd", loss=loss)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.loss) is type(loss)
    assert loaded.loss.get_config() == loss.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-5
    )


def reference_balanced_bce(targets, logits, rates=None):
    targets, logits = np.asarray(targets, np.float64), np.asarray(logits, np.float64)
    p = 1.0 / (1.0 + np.exp(-logits))
    if rates is None:
        positive = negative = 1.0
    else:
        rates = np.clip(np.asarray(rates, np.float64), 0.01, 0.99)
        positive, negative = 0.5 / rates, 0.5 / (1.0 - rates)
    terms = -(positive * targets * np.log(p) + negative * (1 - targets) * np.log(1 - p))
    return terms.mean(axis=-1).mean()


@pytest.mark.parametrize("rates", [None, [0.5, 0.1, 0.9, 0.002]])
def test_balanced_bce_matches_numpy(rates):
    from fgkeras.losses import BalancedBinaryCrossEntropy

    rng = np.random.default_rng(0)
    targets = (rng.uniform(size=(6, 4)) < 0.3).astype("float32")
    logits = rng.normal(scale=3.0, size=(6, 4)).astype("float32")
    got = float(BalancedBinaryCrossEntropy(positive_rates=rates)(targets, logits))
    assert got == pytest.approx(reference_balanced_bce(targets, logits, rates), rel=1e-5)
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    from_probs = BalancedBinaryCrossEntropy(positive_rates=rates, from_logits=False)
    assert float(from_probs(targets, probabilities)) == pytest.approx(got, rel=1e-3)


def test_balanced_bce_weighs_a_rare_attribute_up_and_round_trips():
    import keras

    from fgkeras.losses import BalancedBinaryCrossEntropy

    # One image with a rare attribute (5 % of images) missed: weighted 10x the plain loss.
    plain = float(BalancedBinaryCrossEntropy()(np.array([[1.0]]), np.array([[-2.0]])))
    rare = BalancedBinaryCrossEntropy(positive_rates=[0.05])
    assert float(rare(np.array([[1.0]]), np.array([[-2.0]]))) == pytest.approx(10 * plain)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(rare))
    assert clone.positive_rates == [0.05] and clone.from_logits
    with pytest.raises(ValueError, match="positive_rates"):
        BalancedBinaryCrossEntropy(positive_rates=[1.5])


def reference_info_nce(images, texts, logit_scale, labels=None):
    images = images / np.linalg.norm(images, axis=1, keepdims=True)
    texts = texts / np.linalg.norm(texts, axis=1, keepdims=True)
    s = np.exp(logit_scale) * images @ texts.T
    if labels is not None:
        same = labels[:, None] == labels[None, :]
        s = np.where(same & ~np.eye(len(s), dtype=bool), -np.inf, s)

    def cross_entropy(logits):
        logits = logits - logits.max(axis=1, keepdims=True)
        log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return -np.mean(np.diag(log_softmax))

    return 0.5 * (cross_entropy(s) + cross_entropy(s.T))


@pytest.mark.parametrize("labels", [None, np.array([0, 1, 0, 2, 1])])
def test_symmetric_info_nce_matches_numpy(labels):
    from fgkeras.losses import symmetric_info_nce

    rng = np.random.default_rng(1)
    images = rng.normal(size=(5, 6)).astype("float32")
    texts = rng.normal(size=(5, 6)).astype("float32")
    got = float(symmetric_info_nce(images, texts, np.log(7.0), labels))
    assert got == pytest.approx(reference_info_nce(images, texts, np.log(7.0), labels), rel=1e-5)
