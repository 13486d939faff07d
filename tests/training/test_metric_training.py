"""Training with metric losses: the objective, the embedding projection, the trainer step."""

import keras
import numpy as np
import pytest

import fgkeras
from fgkeras.losses import TripletLoss
from fgkeras.models.heads import embedding_layer
from fgkeras.training.config import TrainConfig
from fgkeras.training.objective import resolve_objective
from fgkeras.training.trainer import Trainer

SHAPE = (16, 16, 3)


def tiny(name="baseline", **kwargs):
    return fgkeras.build(
        name, num_classes=3, backbone="tiny", weights=None, input_shape=SHAPE, **kwargs
    )


def batch(n=12, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (n, *SHAPE)).astype("float32")
    labels = np.repeat(np.arange(3), n // 3).astype("int32")
    return images, labels


def test_embedding_projection_sits_between_pooler_and_logits(tmp_path):
    net = tiny(embedding_dim=8)
    assert embedding_layer(net).name == "embedding"
    assert net.get_layer("embedding").input.shape == net.get_layer("pooler").output.shape
    assert net.get_layer("predictions").input.shape[-1] == 8
    images, _ = batch()
    path = str(tmp_path / "projected.keras")
    net.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded(images), net(images), rtol=1e-5, atol=1e-5)
    assert embedding_layer(reloaded).output.shape == (None, 8)


@pytest.mark.parametrize("name", ["ws_dan", "two_stage"])
def test_embedding_projection_refused_for_multi_pass_models(name):
    with pytest.raises(ValueError, match="single-pass model"):
        tiny(name, embedding_dim=8)


def test_objective_parsing_and_errors():
    objective = resolve_objective("auto")
    assert objective.terms == ("cross_entropy",) and objective.metric_loss() is None
    contrastive = resolve_objective("contrastive", metric_options={"margin": 0.7})
    assert contrastive.metric_loss().margin == 0.7 and contrastive.metric_loss().normalize
    with pytest.raises(ValueError, match="does not have"):
        resolve_objective("triplet", {"cross_entropy": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        resolve_objective("cross_entropy+triplet", {"triplet": -1})
    with pytest.raises(ValueError, match="metric_loss_options"):
        resolve_objective("cross_entropy", metric_options={"margin": 0.1})
    with pytest.raises(ValueError, match="Bad `metric_loss_options`"):
        resolve_objective("triplet", metric_options={"margn": 0.1})


def test_config_refuses_what_metric_losses_cannot_do():
    with pytest.raises(ValueError, match="mixing"):
        TrainConfig.resolve(loss="triplet", mixing="mixup")
    with pytest.raises(ValueError, match="P x K"):
        TrainConfig.resolve(loss="triplet", batch_size=30, images_per_class=4)
    with pytest.raises(ValueError, match="P x K"):
        TrainConfig.resolve(loss="triplet", batch_size=16, classes_per_batch=3)
    assert TrainConfig.resolve(loss="triplet", batch_size=16).pk_shape() == (4, 4)
    assert TrainConfig.resolve(loss="triplet", sampler=None).resolved_sampler() is None
    with pytest.raises(ValueError, match="single-pass"):
        fgkeras.train("ws_dan", loss="triplet", run_dir="unused", batch_size=16)


def test_trainer_terms_are_the_weighted_sum_of_cross_entropy_and_triplet():
    net = tiny(embedding_dim=8)
    objective = resolve_objective("cross_entropy+triplet", {"triplet": 0.5})
    trainer = Trainer(net, objective=objective)
    trainer.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images, labels = batch()
    logs = trainer.evaluate(images, labels, batch_size=12, verbose=0, return_dict=True)

    embedding = keras.Model(net.input, net.get_layer("embedding").output)(images)
    logits = net(images)
    cross_entropy = float(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    )
    triplet = float(TripletLoss(margin=0.2, normalize=True)(labels, embedding))
    assert logs["cross_entropy"] == pytest.approx(cross_entropy, rel=1e-4)
    assert logs["triplet"] == pytest.approx(triplet, rel=1e-4)
    assert logs["loss"] == pytest.approx(cross_entropy + 0.5 * triplet, rel=1e-4)


def test_triplet_training_lowers_the_triplet_loss_and_leaves_the_classifier_alone():
    keras.utils.set_random_seed(0)
    net = tiny(embedding_dim=8)
    classifier = net.get_layer("predictions").get_weights()
    trainer = Trainer(net, objective=resolve_objective("triplet"))
    trainer.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    images, labels = batch(24)
    history = trainer.fit(images, labels, batch_size=24, epochs=15, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    for before, after in zip(classifier, net.get_layer("predictions").get_weights()):
        np.testing.assert_array_equal(before, after)


def test_prototype_classifier_predicts_the_nearest_class_prototype():
    import tensorflow as tf

    from fgkeras.training.prototypes import set_prototype_classifier

    keras.utils.set_random_seed(1)
    net = tiny(embedding_dim=6)
    images, labels = batch(12)
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(5)
    prototypes = set_prototype_classifier(net, data, num_classes=3)

    queries, _ = batch(9, seed=5)
    embedding = np.asarray(keras.Model(net.input, net.get_layer("embedding").output)(queries))
    unit = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
    train_embedding = np.asarray(keras.Model(net.input, net.get_layer("embedding").output)(images))
    train_unit = train_embedding / np.linalg.norm(train_embedding, axis=1, keepdims=True)
    expected = np.stack([train_unit[labels == c].mean(0) for c in range(3)])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(prototypes, expected, atol=1e-5)
    np.testing.assert_array_equal(
        np.argmax(np.asarray(net(queries)), axis=1), np.argmax(unit @ expected.T, axis=1)
    )


SINGLE_PASS = [
    name
    for name in fgkeras.list_models()
    if "multi_pass" not in fgkeras.model_card(name)["capabilities"]
]


@pytest.mark.parametrize("name", SINGLE_PASS)
def test_every_single_pass_model_trains_its_projected_embedding_with_a_metric_loss(name):
    keras.utils.set_random_seed(0)
    net = tiny(name, embedding_dim=8)
    before = net.get_layer("embedding").get_weights()[0].copy()
    trainer = Trainer(net, objective=resolve_objective("cross_entropy+contrastive"))
    trainer.compile(
        keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    images, labels = batch(6)
    logs = trainer.fit(images, labels, batch_size=6, epochs=1, verbose=0).history
    assert np.isfinite(logs["contrastive"][0]) and logs["contrastive"][0] > 0
    assert not np.allclose(before, net.get_layer("embedding").get_weights()[0])


def test_added_losses_count_once_and_unweighted_with_a_metric_objective():
    net = tiny("lstm_attention", units=8, attention_units=4, attention_penalty=0.5)
    objective = resolve_objective("cross_entropy+triplet", {"cross_entropy": 0.5})
    trainer = Trainer(net, objective=objective)
    trainer.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images, labels = batch()
    logs = trainer.evaluate(images, labels, batch_size=12, verbose=0, return_dict=True)
    net(images)
    penalty = float(sum(net.losses))
    assert penalty > 0
    cross_entropy = float(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, net(images))
    )
    assert logs["cross_entropy"] == pytest.approx(cross_entropy, rel=1e-4)
    expected = 0.5 * cross_entropy + logs["triplet"] + penalty
    assert logs["loss"] == pytest.approx(expected, rel=1e-4)
