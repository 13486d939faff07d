"""Attention family: soft/hard attention, WS-DAN, RA-CNN, MA-CNN (values, not just runs)."""

import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras
from fgkeras.layers.cropping import attention_boxes, crop_and_resize
from fgkeras.models.ma_cnn import channel_grouping_loss
from fgkeras.models.ra_cnn import ranking_loss
from fgkeras.models.ws_dan import center_loss, center_update
from fgkeras.testing import check_model_contract, random_inputs

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def pixels(n=4, seed=0):
    return random_inputs((n, 32, 32, 3), seed=seed, high=255.0)


def compiled(model, learning_rate=0.0):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=CE)
    return model


def one_step(model, x, y):
    return model.fit(x, y, batch_size=len(x), epochs=1, verbose=0, shuffle=False).history


def snapshot(weights):
    return [np.array(w) for w in weights]


def changed(before, weights):
    return [not np.allclose(b, np.asarray(w)) for b, w in zip(before, weights)]


# --- soft and hard attention ---------------------------------------------------------


def test_soft_attention_pools_with_its_softmax_maps():
    model = fgkeras.build("soft_attention", num_classes=3, num_heads=2, **TINY)
    x = pixels()
    probe = keras.Model(
        model.input,
        [model.get_layer(n).output for n in ("feature_map", "attention_maps", "pooler")],
    )
    features, maps, pooled = (np.asarray(t) for t in probe(x, training=False))
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), np.ones((4, 2)), rtol=1e-5)
    expected = np.einsum("bhwk,bhwc->bkc", maps, features).reshape(4, -1)
    np.testing.assert_allclose(pooled, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("block", ["se", "cbam"])
def test_soft_attention_with_gating_block(block):
    model = fgkeras.build("soft_attention", num_classes=3, attention_block=block, **TINY)
    expected = {"se": fgkeras.layers.SqueezeExcitation, "cbam": fgkeras.layers.CBAM}[block]
    assert isinstance(model.get_layer("attention_block"), expected)
    check_model_contract(model, num_classes=3)


def test_soft_attention_rejects_unknown_block():
    with pytest.raises(ValueError, match="attention_block"):
        fgkeras.build("soft_attention", num_classes=3, attention_block="eca", **TINY)


def test_hard_attention_glimpse_is_centred_on_the_peak():
    model = fgkeras.build("hard_attention", num_classes=3, glimpse_fraction=0.5, **TINY)
    x = pixels()
    probe = keras.Model(
        model.input, [model.get_layer("attention_maps").output, model.get_layer("glimpse").output]
    )
    maps, glimpse = (np.asarray(t) for t in probe(x, training=False))
    boxes = np.asarray(model.get_layer("glimpse").boxes(maps))
    np.testing.assert_allclose(boxes[:, 2:] - boxes[:, :2], 0.5, atol=1e-6)
    np.testing.assert_allclose(glimpse, crop_and_resize(x, boxes, (32, 32)), atol=1e-3)


# --- WS-DAN -------------------------------------------------------------------------


def test_center_loss_and_update_values():
    features = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]], "float32")
    centers = np.array([[1.0, 1.0], [0.0, 0.0]], "float32")
    labels = np.array([0, 0, 1])
    # (|(0,-1)|^2 + |(2,-1)|^2 + |(0,2)|^2) / 3 = (1 + 5 + 4) / 3
    assert float(center_loss(features, centers, labels)) == pytest.approx(10 / 3)
    update = np.asarray(center_update(features, centers, labels, 0.5))
    np.testing.assert_allclose(update, [[0.5, -0.5], [0.0, 1.0]])


def test_ws_dan_train_step_values():
    model = compiled(fgkeras.build("ws_dan", num_classes=3, num_attention_maps=4, **TINY))
    x, y = pixels(6), np.array([0, 1, 2, 0, 1, 2])
    state = np.array(model.seed_generator.state)
    history = one_step(model, x, y)

    # Replay the step: same seed state, same (training-mode) passes, weights unchanged (lr 0).
    model.seed_generator.state.assign(state)
    first = model.run(x, training=True)
    crops, drops = model.augment(x, first["attention_maps"])
    ce = [
        float(CE(y, p))
        for p in (first["logits"], model(crops, training=True), model(drops, training=True))
    ]
    features = np.asarray(first["part_features"])
    expected_center = float(np.mean(np.sum(features**2, axis=-1)))  # centers start at 0
    assert history["center_loss"][0] == pytest.approx(expected_center, rel=1e-4)
    assert history["loss"][0] == pytest.approx(np.mean(ce) + expected_center, rel=1e-4)
    class_means = np.stack([features[y == c].mean(axis=0) for c in range(3)])
    np.testing.assert_allclose(model.feature_centers, 0.05 * class_means, rtol=1e-4, atol=1e-6)
    assert not np.allclose(crops, x)  # the crop zooms in
    assert np.any(np.asarray(drops) == 0) and np.all(np.asarray(drops) <= x + 1e-4)


def test_ws_dan_inference_is_crop_and_refine_and_deterministic():
    model = fgkeras.build("ws_dan", num_classes=3, num_attention_maps=4, **TINY)
    x = pixels()
    first = model.run(x, training=False)
    boxes = attention_boxes(first["attention_maps"], 0.1, 0.05)
    refined = model.run(crop_and_resize(x, boxes, (32, 32)), training=False)["logits"]
    expected = (np.asarray(first["logits"]) + np.asarray(refined)) / 2
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))


def test_ws_dan_export_contains_crop_and_refine():
    model = fgkeras.build("ws_dan", num_classes=3, num_attention_maps=4, **TINY)
    x = pixels()
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "saved")
        model.export(path, verbose=False)
        loaded = tf.saved_model.load(path)
        served = loaded.serve(x).numpy()
    np.testing.assert_allclose(served, model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_ws_dan_rejects_bad_threshold_range():
    with pytest.raises(ValueError, match="crop_threshold"):
        fgkeras.build("ws_dan", num_classes=3, crop_threshold=(0.7, 0.2), **TINY)


# --- RA-CNN -------------------------------------------------------------------------


def test_ranking_loss_values():
    probs = [np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([[0.7, 0.3], [0.2, 0.8]])]
    probs.append(np.array([[0.6, 0.4], [0.1, 0.9]]))
    logits = [np.log(p).astype("float32") for p in probs]
    labels = np.array([0, 1])
    # scales 1->2: max(0, .5-.7+.05)=0, max(0, .1-.8+.05)=0 -> 0
    # scales 2->3: max(0, .7-.6+.05)=.15, max(0, .8-.9+.05)=0 -> mean .075
    assert float(ranking_loss(logits, labels, margin=0.05)) == pytest.approx(0.075, abs=1e-6)


def test_ra_cnn_train_step_loss_value():
    model = compiled(fgkeras.build("ra_cnn", num_classes=3, num_scales=2, apn_units=8, **TINY))
    x, y = pixels(), np.array([0, 1, 2, 0])
    history = one_step(model, x, y)
    out = model.run(x, training=True)
    scales = [out["scale1_predictions"], out["scale2_predictions"]]
    classification = sum(float(CE(y, p)) for p in [out["logits"], *scales])
    rank = float(ranking_loss(scales, y))
    assert history["classification_loss"][0] == pytest.approx(classification, rel=1e-4)
    assert history["rank_loss"][0] == pytest.approx(rank, rel=1e-4, abs=1e-6)
    assert history["loss"][0] == pytest.approx(classification + rank, rel=1e-4)


def test_ra_cnn_alternates_between_classification_and_apn():
    model = fgkeras.build(
        "ra_cnn",
        num_classes=3,
        num_scales=2,
        apn_units=8,
        alternate_every=1,
        rank_margin=1.0,
        **TINY,
    )
    compiled(model, learning_rate=0.5)
    x, y = pixels(), np.array([0, 1, 2, 0])
    apn = model.apn_weights()
    head = model.get_layer("scale1_predictions").trainable_weights
    apn_before, head_before = snapshot(apn), snapshot(head)
    one_step(model, x, y)  # step 0: classification phase, APN fixed
    assert not any(changed(apn_before, apn)) and all(changed(head_before, head))
    apn_before, head_before = snapshot(apn), snapshot(head)
    one_step(model, x, y)  # step 1: ranking phase, classifiers fixed
    assert any(changed(apn_before, apn)) and not any(changed(head_before, head))


def test_ra_cnn_zoom_stays_in_range():
    model = fgkeras.build("ra_cnn", num_classes=3, apn_units=8, **TINY)
    box = keras.Model(model.input, model.get_layer("apn1_box").output)(pixels(), training=False)
    box = np.asarray(box)
    assert np.all((box[:, 2] >= 1 / 6 - 1e-6) & (box[:, 2] <= 0.5 + 1e-6))
    assert model.get_layer("backbone_2") is not model.get_layer("backbone")


# --- MA-CNN -------------------------------------------------------------------------


def test_channel_grouping_loss_values():
    maps = np.zeros((2, 2, 2, 2), "float32")
    maps[0, 0, 0, 0] = maps[0, 1, 1, 1] = 1.0  # compact and disjoint: no loss
    maps[1, 0, 0, 0] = 1.0
    maps[1, :, :, 1] = 0.5  # spread over the grid, overlapping part 0 at (0, 0)
    # example 2: Dis(part 1) = 0.5 * (0 + .25 + .25 + .5) / 4 = 0.125 (peak (0, 0));
    # Div = [1 * (0.5 - 0.1) + 0.5 * (1 - 0.1) + 3 * 0.5 * (0 - 0.1)] / 4 = 0.175
    expected_second = 0.125 + 2.0 * 0.175
    # example 1: Div = 2 * 1 * (0 - 0.1) / 4 = -0.05
    expected_first = 2.0 * -0.05
    value = float(channel_grouping_loss(maps, margin=0.1, diversity_weight=2.0))
    assert value == pytest.approx((expected_first + expected_second) / 2, abs=1e-6)


def test_ma_cnn_train_step_loss_value():
    model = fgkeras.build("ma_cnn", num_classes=3, num_parts=2, grouping_loss_weight=0.5, **TINY)
    compiled(model)
    x, y = pixels(), np.array([0, 1, 2, 0])
    history = one_step(model, x, y)
    out = model.run(x, training=True)
    classification = float(CE(y, out["logits"]))
    grouping = float(channel_grouping_loss(out["attention_maps"]))
    assert history["grouping_loss"][0] == pytest.approx(grouping, rel=1e-4)
    assert history["loss"][0] == pytest.approx(classification + 0.5 * grouping, rel=1e-4)


def test_ma_cnn_alternation_trains_only_the_grouping_layer_in_phase_two():
    model = fgkeras.build("ma_cnn", num_classes=3, num_parts=2, alternate_every=1, **TINY)
    compiled(model, learning_rate=0.5)
    x, y = pixels(), np.array([0, 1, 2, 0])
    grouping = model.get_layer("attention_maps").trainable_weights
    head = model.get_layer("predictions").trainable_weights
    g0, h0 = snapshot(grouping), snapshot(head)
    one_step(model, x, y)
    assert not any(changed(g0, grouping)) and all(changed(h0, head))
    g0, h0 = snapshot(grouping), snapshot(head)
    one_step(model, x, y)
    assert any(changed(g0, grouping)) and not any(changed(h0, head))


@pytest.mark.parametrize("name", ["ws_dan", "ra_cnn", "ma_cnn"])
def test_multi_pass_models_keep_their_options_through_keras_files(name):
    options = {
        "ws_dan": {"center_momentum": 0.2},
        "ra_cnn": {"rank_margin": 0.3},
        "ma_cnn": {"margin": 0.3},
    }[name]
    model = fgkeras.build(name, num_classes=3, **options, **TINY)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    key, value = next(iter(options.items()))
    assert getattr(loaded, key) == value


DISTRIBUTED_FIT = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import fgkeras
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
y = np.arange(8) % 3
out = {}
for name in sys.argv[1:]:
    with strategy.scope():
        model = fgkeras.build(name, num_classes=3, backbone="tiny", weights=None,
                              input_shape=(32, 32, 3))
        model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True))
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    out[name] = {key: value[-1] for key, value in history.items()}
print(json.dumps(out))
"""


@pytest.mark.large
def test_multi_pass_models_fit_under_mirrored_strategy():
    import json
    import subprocess
    import sys

    names = ["ws_dan", "ra_cnn", "ma_cnn", "two_stage"]
    result = subprocess.run(
        [sys.executable, "-c", DISTRIBUTED_FIT, *names],
        capture_output=True,
        text=True,
        timeout=1500,  # 110 s here alone; 600 s was hit beside two training jobs
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    logs = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(logs) == set(names)
    assert all(np.isfinite(value) for log in logs.values() for value in log.values())
    assert logs["ws_dan"]["center_loss"] > 0 and logs["ra_cnn"]["rank_loss"] >= 0


def test_soft_attention_uniform_feature_gradient_changes_only_the_backbone_update():
    """Same weights, same batch, one SGD step: the attention scoring layers move
    the same way under both settings; the backbone moves as under global pooling."""
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    labels = np.array([0, 1, 2, 1])
    steps = {}
    for setting in ("attention", "uniform"):
        keras.utils.set_random_seed(0)
        model = fgkeras.build(
            "soft_attention",
            num_classes=3,
            backbone="tiny",
            weights=None,
            input_shape=(32, 32, 3),
            hidden_units=8,
            feature_gradient=setting,
        )
        if steps:  # identical starting weights
            model.set_weights(steps["attention"][0])
        before = [w.copy() for w in model.get_weights()]
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        logits = np.asarray(model(images, training=False))
        model.train_on_batch(images, labels)
        steps[setting] = (before, model, logits)
    plain, uniform = steps["attention"][1], steps["uniform"][1]
    np.testing.assert_allclose(steps["attention"][2], steps["uniform"][2], rtol=1e-5, atol=1e-5)
    for name in ("attention_hidden", "attention_scores", "predictions"):
        for a, b in zip(plain.get_layer(name).get_weights(), uniform.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    backbone_plain = plain.get_layer("backbone").trainable_weights[-3].numpy()
    backbone_uniform = uniform.get_layer("backbone").trainable_weights[-3].numpy()
    assert not np.allclose(backbone_plain, backbone_uniform, atol=1e-6)
