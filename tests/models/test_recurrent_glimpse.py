"""recurrent_glimpse: deterministic inference, glimpse boxes, REINFORCE and differentiable steps."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras
from fgkeras.inference.explanations import explain
from fgkeras.layers.glimpse import glimpse_centers
from fgkeras.models.recurrent_glimpse import (
    baseline_loss,
    classification_rewards,
    gaussian_log_likelihood,
    reinforce_loss,
)
from fgkeras.serving import tflite
from fgkeras.serving.signatures import ServingFunctions
from fgkeras.testing import random_inputs

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3), "units": 16}
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def glimpse_model(**kwargs):
    return fgkeras.build("recurrent_glimpse", num_classes=3, **{**TINY, **kwargs})


def pixels(n=4, seed=0):
    return random_inputs((n, 32, 32, 3), seed=seed, high=255.0)


def numpy_log_normal(x, mean, std):
    return np.sum(-((x - mean) ** 2) / (2 * std**2) - np.log(std) - 0.5 * np.log(2 * np.pi), -1)


def test_loss_helpers_match_numpy():
    rng = np.random.default_rng(0)
    means = rng.uniform(-1, 1, (4, 3, 2)).astype("float32")
    locations = (means + 0.2 * rng.normal(size=means.shape)).astype("float32")
    rewards = np.array([1.0, 0.0, 1.0, 0.0], "float32")
    baselines = rng.uniform(0, 1, (4, 3)).astype("float32")
    log_p = numpy_log_normal(locations, means, 0.2)
    np.testing.assert_allclose(gaussian_log_likelihood(locations, means, 0.2), log_p, rtol=1e-5)
    want = -np.mean(np.sum((rewards[:, None] - baselines) * log_p, axis=1))
    assert float(reinforce_loss(locations, means, rewards, baselines, 0.2)) == pytest.approx(
        want, rel=1e-5, abs=1e-6
    )
    want = np.mean((rewards[:, None] - baselines) ** 2)
    assert float(baseline_loss(rewards, baselines)) == pytest.approx(want, rel=1e-6)
    logits = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0]], "float32")
    np.testing.assert_array_equal(classification_rewards(logits, np.array([1, 2])), [1.0, 0.0])


def test_reinforce_gradient_is_the_score_function_estimate():
    means = tf.Variable(np.array([[[0.1, -0.2]]], "float32"))
    location = np.array([[[0.3, 0.1]]], "float32")
    with tf.GradientTape() as tape:
        loss = reinforce_loss(location, means, np.array([1.0]), np.array([[0.25]], "f4"), 0.5)
    # ∂/∂μ of −(R − b) log N(l | μ, σ²) = −(R − b) (l − μ) / σ².
    want = -(1.0 - 0.25) * (location - means.numpy()) / 0.25
    np.testing.assert_allclose(tape.gradient(loss, means), want, rtol=1e-5)


def test_inference_is_deterministic_and_matches_the_unrolled_pass():
    model = glimpse_model()
    x = pixels()
    first = np.asarray(model(x, training=False))
    np.testing.assert_array_equal(first, np.asarray(model(x, training=False)))
    np.testing.assert_allclose(model.predict(x, verbose=0), first, rtol=1e-5, atol=1e-6)
    replay = model.glimpse_sequence(x)
    np.testing.assert_allclose(replay["logits"], first, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(replay["locations"], replay["means"])


@pytest.mark.parametrize("glimpse_size", [0.25, 0.4])
def test_glimpse_boxes_are_the_base_squares_at_the_mean_locations(glimpse_size):
    model = glimpse_model(glimpses=2, glimpse_size=glimpse_size)
    x = pixels(3, seed=1)
    boxes = np.asarray(model.run(x)["glimpse_boxes"])
    assert boxes.shape == (3, 2, 4)
    assert boxes.min() >= 0.0 and boxes.max() <= 1.0
    np.testing.assert_allclose(boxes[..., 2:] - boxes[..., :2], glimpse_size, atol=1e-6)
    centres = np.asarray(glimpse_centers(model.glimpse_sequence(x)["means"], glimpse_size))
    np.testing.assert_allclose((boxes[..., 2:] + boxes[..., :2]) / 2, centres, atol=1e-6)


def test_reinforce_train_step_values():
    model = glimpse_model(location_std=0.2)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=CE)
    rng = np.random.default_rng(0)
    model.baseline_kernel.assign(rng.normal(0, 0.3, (16, 1)).astype("float32"))
    model.baseline_bias.assign([0.4])
    x, y = pixels(6), np.array([0, 1, 2, 0, 1, 2])
    state = np.array(model.seed_generator.state)
    history = model.fit(x, y, batch_size=6, epochs=1, verbose=0, shuffle=False).history

    # Replay: the same noise from the same seed state, the same passes (lr 0: same weights).
    model.seed_generator.state.assign(state)
    noise = np.asarray(model.location_noise(6))
    out = model.glimpse_sequence(x, noise=noise, training=True)
    means, locations = np.asarray(out["means"]), np.asarray(out["locations"])
    np.testing.assert_allclose(locations, means + noise, atol=1e-6)
    logits, states = np.asarray(out["logits"]), np.asarray(out["states"])
    reward = (logits.argmax(-1) == y).astype("float64")
    baselines = states @ np.asarray(model.baseline_kernel)[:, 0] + 0.4
    log_p = numpy_log_normal(locations, means, 0.2)
    reinforce = -np.mean(np.sum((reward[:, None] - baselines) * log_p, axis=1))
    baseline = np.mean((reward[:, None] - baselines) ** 2)
    cross_entropy = float(CE(y, logits))
    assert history["reinforce"][0] == pytest.approx(reinforce, rel=1e-4, abs=1e-5)
    assert history["baseline"][0] == pytest.approx(baseline, rel=1e-4)
    assert history["cross_entropy"][0] == pytest.approx(cross_entropy, rel=1e-4)
    assert history["loss"][0] == pytest.approx(cross_entropy + reinforce + baseline, rel=1e-4)


def test_reinforce_terms_train_their_own_weights():
    model = glimpse_model()
    x, y = tf.constant(pixels()), tf.constant([0, 1, 2, 0])
    with tf.GradientTape(persistent=True) as tape:
        terms, _ = model.train_losses(x, y, None, lambda logits: CE(y, logits))
    locator = model.get_layer("locator").trainable_weights
    baseline = [model.baseline_kernel, model.baseline_bias]
    others = [w for w in model.trainable_weights if all(w is not v for v in [*locator, *baseline])]

    def reached(term, weights):
        return [g is not None and np.any(np.asarray(g) != 0) for g in tape.gradient(term, weights)]

    assert not any(reached(terms["cross_entropy"], locator + baseline))
    assert all(reached(terms["cross_entropy"], others))
    assert all(reached(terms["reinforce"], locator))
    assert not any(reached(terms["reinforce"], others + baseline))
    assert all(reached(terms["baseline"], baseline))
    assert not any(reached(terms["baseline"], locator + others))


def test_differentiable_mode_trains_the_locator_through_the_crops():
    model = glimpse_model(mode="differentiable", glimpses=2)
    assert model.LOSS_TERMS == () and not hasattr(model, "baseline_kernel")
    x, y = pixels(), np.array([0, 1, 2, 0])
    locator = model.get_layer("locator").kernel
    with tf.GradientTape() as tape:
        loss = CE(y, model(x, training=True))
    assert np.abs(np.asarray(tape.gradient(loss, locator))).max() > 0
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=CE)
    before = np.array(locator)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert set(history) == {"loss"} and not np.allclose(before, np.asarray(locator))


def test_a_few_reinforce_steps_lower_the_loss():
    # Three classes told apart by a bright square in one quadrant.
    rng = np.random.default_rng(0)
    y = np.arange(12) % 3
    x = rng.uniform(0, 60, (12, 32, 32, 3)).astype("float32")
    for i, label in enumerate(y):
        top, left = [(0, 0), (0, 16), (16, 8)][label]
        x[i, top : top + 16, left : left + 16] += 180.0
    model = glimpse_model(seed=1, glimpses=2, scales=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=CE)
    history = model.fit(x, y, batch_size=12, epochs=6, verbose=0).history
    assert history["cross_entropy"][-1] < 0.8 * history["cross_entropy"][0]
    assert all(np.isfinite(history[key]).all() for key in ("reinforce", "baseline"))


def test_keras_file_keeps_mode_options_and_baseline(tmp_path):
    model = glimpse_model(location_std=0.3, reinforce_weight=0.5, seed=7)
    model.baseline_bias.assign([0.25])
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.mode == "reinforce"
    assert (loaded.location_std, loaded.reinforce_weight, loaded.seed) == (0.3, 0.5, 7)
    np.testing.assert_allclose(loaded.baseline_bias, [0.25])
    x = pixels(2)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-5)


def test_explain_draws_the_glimpse_boxes(tmp_path):
    model = glimpse_model(glimpses=2, scales=1)
    x = pixels(1)
    rows = explain(model, x, str(tmp_path))
    assert [row["method"] for row in rows] == ["grad_cam", "glimpse_boxes"]
    assert all(os.path.exists(row["path"]) for row in rows)
    boxes = np.asarray(model.run(x)["glimpse_boxes"])[0]
    peak_y, peak_x = rows[1]["peak_y"], rows[1]["peak_x"]
    assert any(b[0] <= peak_y <= b[2] and b[1] <= peak_x <= b[3] for b in boxes)


def test_tflite_runs_the_mean_glimpses():
    # The SavedModel export of every model is checked by test_reload_models_{a,b}.py.
    model = glimpse_model(glimpses=2, scales=1)
    x = pixels(2)
    content = tflite.convert(ServingFunctions(model, ["a", "b", "c"]))
    got = tflite.run(tflite.interpreter(content), x)["probabilities"]
    want = np.asarray(tf.nn.softmax(model(x, training=False)))
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "greedy"}, "mode"),
        ({"location_std": 0.0}, "location_std"),
        ({"glimpse_size": 1.5}, "glimpse_size"),
        ({"glimpses": 0}, "glimpses"),
        ({"glimpse_pixels": 4}, "glimpse_pixels=4"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        glimpse_model(**kwargs)
