"""Recurrent glimpses: an LSTM chooses where to look next, at high resolution.

Sermanet, Frome and Real, "Attention for Fine-Grained Categorization",
ICLR 2015 workshop (https://arxiv.org/abs/1412.7054), after Mnih et al.'s
RAM ("Recurrent Models of Visual Attention", https://arxiv.org/abs/1406.6247)
and Ba et al.'s DRAM ("Multiple Object Recognition with Visual Attention",
https://arxiv.org/abs/1412.7755).

- Context (DRAM's context network): the whole image, resized to the glimpse
  size ("context_view"), through the "backbone" ("feature_map") and pooled,
  sets the LSTM's initial state h_0, c_0 ("initial_h", "initial_c").
- Step t = 1..T: the "locator" (Dense + tanh) emits the mean location
  μ_t = tanh(W h_{t-1} + b) in [-1, 1]²; the "glimpse_sensor" crops
  ``scales`` squares around it (`fgkeras.layers.GlimpseSensor`), the shared
  backbone encodes each and they are pooled and concatenated; "what"
  (ReLU(Dense) of the crops' features) times "where" (ReLU(Dense) of the
  location), DRAM's glimpse network, is the LSTM's input.
- Readout: the last state h_T is the "pooler" embedding, then the shared
  head. "glimpse_boxes" holds the (batch, T, 4) base squares the model
  looked at, normalized [ymin, xmin, ymax, xmax], for explanations.
- Inference (``model(x)``, `predict`, exported SavedModels) looks at the
  mean locations: deterministic.
- Training, ``mode="differentiable"``: the crops are bilinear samples
  (a spatial transformer), so plain cross-entropy trains everything
  end to end, the locator included.
- Training, ``mode="reinforce"`` (RAM's): the locations are sampled,
  l_t ~ N(μ_t, σ²I), and the sensor sees only the samples (no gradient
  through them). Cross-entropy of the final logits trains the rest of the
  network; the locator is trained by REINFORCE with the reward
  R = 1[argmax = y] and a learned baseline b_t = wᵀ h_{t-1} + c (see
  `reinforce_loss`, `baseline_loss` and docs/attention.md). The state
  feeding the locator and the baseline is a stop-gradient in this mode, so
  each term trains its own weights: CE the classifier, LSTM, glimpse
  network and backbone; REINFORCE the locator; the squared error the baseline.
"""

import math

import keras
from keras import layers, ops

from fgkeras.checks import check_int
from fgkeras.layers import GlimpseBoxes, GlimpseSensor, Passthrough, SelectStep
from fgkeras.models.attention import shared_backbone
from fgkeras.models.common import backbone_feature_map, model_input
from fgkeras.models.heads import check_num_classes, classification_head
from fgkeras.models.multi_pass import MultiPassModel, replica_scaled
from fgkeras.models.registry import register_model

MODES = ("reinforce", "differentiable")
SERMANET_2015 = "Attention for Fine-Grained Categorization"


def gaussian_log_likelihood(samples, means, std):
    """log N(x | μ, σ²I), summed over the last axis.

    >>> import numpy as np
    >>> round(float(gaussian_log_likelihood(np.zeros((1,)), np.zeros((1,)), 1.0)), 4)
    -0.9189
    """
    z = (ops.convert_to_tensor(samples) - means) / std
    return ops.sum(-0.5 * ops.square(z) - math.log(std) - 0.5 * math.log(2.0 * math.pi), -1)


def classification_rewards(logits, labels):
    """R = 1 where the top class is the label, else 0: (batch,) float32.

    >>> import numpy as np
    >>> np.asarray(classification_rewards(np.eye(3, dtype="float32"), np.array([0, 2, 2])))
    array([1., 0., 1.], dtype=float32)
    """
    labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
    predicted = ops.cast(ops.argmax(logits, axis=-1), "int32")
    return ops.cast(ops.equal(predicted, labels), "float32")


def reinforce_loss(locations, means, rewards, baselines, std):
    """REINFORCE surrogate −mean_b Σ_t (R_b − b_bt)·log N(l_bt | μ_bt, σ²I).

    Its gradient in the locator's weights θ is the REINFORCE estimate
    −mean_b Σ_t (R_b − b_bt) ∂ log π(l_bt)/∂θ: the advantage R − b and the
    sampled locations are constants (stop-gradient). Williams 1992; Mnih et
    al. 2014 (https://arxiv.org/abs/1406.6247).

    Args:
        locations: (batch, steps, 2) sampled locations.
        means: (batch, steps, 2) the means μ they were sampled around.
        rewards: (batch,) rewards R.
        baselines: (batch, steps) baselines b.
        std: σ of the location policy.

    >>> import numpy as np
    >>> loc, mu = np.array([[[0.1, 0.0]]], "float32"), np.zeros((1, 1, 2), "float32")
    >>> logp = float(gaussian_log_likelihood(loc[0, 0], mu[0, 0], 0.1))
    >>> value = float(reinforce_loss(loc, mu, np.ones(1), np.full((1, 1), 0.25), 0.1))
    >>> round(value, 4) == round(-(1.0 - 0.25) * logp, 4)
    True
    """
    advantage = ops.stop_gradient(ops.cast(rewards, "float32")[:, None] - baselines)
    log_likelihood = gaussian_log_likelihood(
        ops.stop_gradient(ops.cast(locations, "float32")), ops.cast(means, "float32"), std
    )
    return -ops.mean(ops.sum(advantage * log_likelihood, axis=1))


def baseline_loss(rewards, baselines):
    """Mean squared error mean_{b,t} (R_b − b_bt)² of the baseline (reward held fixed).

    >>> import numpy as np
    >>> float(baseline_loss(np.array([1.0, 0.0]), np.array([[0.5], [0.5]], "float32")))
    0.25
    """
    rewards = ops.stop_gradient(ops.cast(rewards, "float32"))
    return ops.mean(ops.square(rewards[:, None] - baselines))


@keras.saving.register_keras_serializable(package="fgkeras")
class RecurrentGlimpse(MultiPassModel):
    """The recurrent glimpse network and its two training modes.

    Built by `build_recurrent_glimpse`; see the module docstring. Calling
    the model looks at the mean locations (deterministic); `fit` trains
    with ``mode``. Sample weights weigh the cross-entropy only; the
    REINFORCE and baseline terms are plain batch means.
    https://arxiv.org/abs/1412.7054

    Args:
        mode: "reinforce" (sampled locations, REINFORCE with a learned
            baseline) or "differentiable" (end-to-end through the bilinear
            crops). Defaults to "reinforce".
        location_std: σ of the location policy N(μ_t, σ²I) ("reinforce").
            Defaults to 0.1.
        reinforce_weight: weight of the REINFORCE term in the total loss.
            Defaults to 1.0.
        seed: seed of the location sampling. Defaults to 0.
        *args, **kwargs: the functional ``inputs``, ``outputs``, ``name``.

    >>> model = build_recurrent_glimpse(3, backbone="tiny", weights=None,
    ...                                 input_shape=(32, 32, 3), units=8)
    >>> model.mode, model.LOSS_TERMS
    ('reinforce', ('cross_entropy', 'reinforce', 'baseline'))
    """

    INTERMEDIATES = ("glimpse_boxes",)

    def __init__(
        self, *args, mode="reinforce", location_std=0.1, reinforce_weight=1.0, seed=0, **kwargs
    ):
        # Set first: `MultiPassModel.__init__` reads LOSS_TERMS, which depends on it.
        self.mode = _check_mode(mode)
        super().__init__(*args, **kwargs)
        self.location_std = _check_positive("location_std", location_std)
        self.reinforce_weight = _check_positive("reinforce_weight", reinforce_weight, zero=True)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        if self.mode == "reinforce":
            units = self.get_layer("lstm").units
            self.baseline_kernel = self.add_weight(
                shape=(units, 1), initializer="zeros", name="baseline_kernel"
            )
            self.baseline_bias = self.add_weight(
                shape=(1,), initializer="zeros", name="baseline_bias"
            )

    @property
    def LOSS_TERMS(self):  # noqa: N802 - the name MultiPassModel reads
        if self.mode == "reinforce":
            return ("cross_entropy", "reinforce", "baseline")
        return ()

    @property
    def glimpses(self) -> int:
        """Number of glimpses T."""
        return self.get_layer("glimpse_boxes").output.shape[1]

    def glimpse_sequence(self, images, noise=None, training=False):
        """Run the glimpses on ``images``, optionally at sampled locations.

        Args:
            images: (batch, H, W, 3) raw pixels.
            noise: None (look at the means μ_t) or (batch, glimpses, 2)
                added to them: the sensor then sees clip(μ_t + noise, −1, 1),
                with no gradient through the location, and the states feeding
                the locator are stop-gradients (the REINFORCE pass).
                Defaults to None.
            training: run the layers in training mode. Defaults to False.

        Returns:
            A dict: "logits" (batch, classes); "means" and "locations"
            (batch, glimpses, 2), the latter the unclipped samples (the
            means when ``noise`` is None); "states" (batch, glimpses, units),
            the h_{t-1} each location was chosen from.
        """
        images = ops.cast(images, "float32")
        context = self.get_layer("context_view")(images, training=training)
        backbone = self.get_layer("backbone")
        feature_map = self.get_layer("feature_map")(backbone(context, training=training))
        out = _unroll(self.get_layer, backbone, images, feature_map, self.glimpses, noise, training)
        boxes = self.get_layer("glimpse_boxes")(out["means"])
        pooled = self.get_layer("pooler")([out["state"], boxes])
        dropped = self.get_layer("head_dropout")(pooled, training=training)
        logits = self.get_layer("predictions")(dropped)
        stacked = {key: ops.stack(out[key], axis=1) for key in ("means", "locations", "states")}
        return {"logits": logits, **stacked}

    def location_noise(self, batch_size):
        """σ·ε, ε ~ N(0, I) of shape (batch, glimpses, 2), from the model's seed generator."""
        shape = (batch_size, self.glimpses, 2)
        return self.location_std * keras.random.normal(shape, seed=self.seed_generator)

    def baselines(self, states):
        """b_t = wᵀ h_{t-1} + c of (batch, glimpses, units) states: (batch, glimpses)."""
        states = ops.stop_gradient(ops.cast(states, "float32"))
        return ops.matmul(states, self.baseline_kernel)[..., 0] + self.baseline_bias

    def train_losses(self, x, y, sample_weight, loss_fn):
        if self.mode == "differentiable":
            return super().train_losses(x, y, sample_weight, loss_fn)
        noise = self.location_noise(ops.shape(x)[0])
        out = self.glimpse_sequence(x, noise=noise, training=True)
        logits = out["logits"]
        cross_entropy = loss_fn(logits)
        rewards = classification_rewards(logits, y)
        baselines = self.baselines(out["states"])
        reinforce = replica_scaled(
            reinforce_loss(out["locations"], out["means"], rewards, baselines, self.location_std)
        )
        baseline = replica_scaled(baseline_loss(rewards, baselines))
        total = cross_entropy + self.reinforce_weight * reinforce + baseline
        terms = {"cross_entropy": cross_entropy, "reinforce": reinforce, "baseline": baseline}
        return {"loss": total, **terms}, logits

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "location_std": self.location_std,
            "reinforce_weight": self.reinforce_weight,
            "seed": self.seed,
        }


def _unroll(layer, backbone, images, feature_map, glimpses, noise=None, training=None):
    """The recurrence, shared by the functional graph and the REINFORCE pass.

    ``layer(name)`` returns the named layer. With ``noise`` the sensor sees
    the sampled locations and the locator reads stop-gradient states.
    """
    pooled = layer("context_pooling")(feature_map)
    h, c = layer("initial_h")(pooled), layer("initial_c")(pooled)
    sensor = layer("glimpse_sensor")
    means, locations, states = [], [], []
    for t in range(glimpses):
        states.append(h)
        mean = layer("locator")(h if noise is None else ops.stop_gradient(h))
        location = mean
        if noise is not None:
            location = ops.stop_gradient(mean + ops.cast(noise[:, t], mean.dtype))
        means.append(mean)
        locations.append(location)
        seen = location if noise is None else ops.clip(location, -1.0, 1.0)
        crops = sensor([images, seen])
        features = [
            layer("glimpse_pooling")(backbone(layer(f"glimpse_scale{s}")(crops), training=training))
            for s in range(1, sensor.scales + 1)
        ]
        features = layer("glimpse_features")(features) if len(features) > 1 else features[0]
        what = layer("glimpse_what")(features)
        where = layer("glimpse_where")(seen)
        h, (h, c) = layer("lstm")(layer("glimpse")([what, where]), [h, c], training=training)
    return {"state": h, "means": means, "locations": locations, "states": states}


def _check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {list(MODES)}. Received: mode={mode!r}")
    return mode


def _check_positive(name, value, zero=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (value >= 0 if zero else value > 0):
        kind = "a number >= 0" if zero else "a positive number"
        raise ValueError(f"`{name}` must be {kind}. Received: {name}={value!r}")
    return float(value)


def build_recurrent_glimpse(
    num_classes: int = 200,
    backbone: str = "resnet50",
    weights="imagenet",
    input_shape=(448, 448, 3),
    glimpses: int = 3,
    scales: int = 2,
    glimpse_size: float = 0.25,
    glimpse_pixels: int | None = None,
    units: int = 256,
    mode: str = "reinforce",
    location_std: float = 0.1,
    reinforce_weight: float = 1.0,
    seed: int = 0,
    dropout: float = 0.0,
    freeze_backbone: bool = False,
    name: str = "recurrent_glimpse",
) -> RecurrentGlimpse:
    """Build the recurrent glimpse network (context view, LSTM, locator, glimpses).

    Sermanet et al., "Attention for Fine-Grained Categorization", ICLR 2015
    workshop (https://arxiv.org/abs/1412.7054); see the module docstring.
    The backbone runs on ``glimpse_pixels``² views: the context view and
    ``glimpses × scales`` crops, ``1 + glimpses·scales`` passes per image.
    Named layers: "context_view", "backbone", "feature_map" (the context's
    map, which Grad-CAM explains), "locator", "glimpse_sensor", "lstm",
    "glimpse_boxes" (batch, glimpses, 4), "pooler" (h_T), "predictions".

    Args:
        num_classes: number of classes. Defaults to 200.
        backbone: backbone name. Defaults to "resnet50".
        weights: "imagenet", None or a weights file. Defaults to "imagenet".
        input_shape: (height, width, 3) raw RGB input. Defaults to (448, 448, 3).
        glimpses: number of glimpses T. Defaults to 3.
        scales: squares per glimpse, each twice the side of the previous.
            Defaults to 2.
        glimpse_size: side of the smallest square, a fraction of the image.
            Defaults to 0.25.
        glimpse_pixels: side in pixels of every crop and of the context
            view, the backbone's input (None: half the input height).
            Defaults to None.
        units: size of the LSTM state and of the glimpse embedding.
            Defaults to 256.
        mode: "reinforce" or "differentiable" training. Defaults to "reinforce".
        location_std: σ of the sampled locations ("reinforce"). Defaults to 0.1.
        reinforce_weight: weight of the REINFORCE term. Defaults to 1.0.
        seed: seed of the location sampling. Defaults to 0.
        dropout: dropout before the classifier. Defaults to 0.0.
        freeze_backbone: build with the backbone not trainable. Defaults to False.
        name: model name. Defaults to "recurrent_glimpse".

    >>> model = build_recurrent_glimpse(4, backbone="tiny", weights=None,
    ...                                 input_shape=(32, 32, 3), units=8)
    >>> model.get_layer("glimpse_boxes").output.shape, model.get_layer("pooler").output.shape
    ((None, 3, 4), (None, 8))
    """
    check_num_classes(num_classes)
    check_int("glimpses", glimpses)
    check_int("units", units)
    mode = _check_mode(mode)
    inputs = model_input(input_shape)
    size = check_int("glimpse_pixels", glimpse_pixels, allow_none=True)
    size = size or max(1, int(input_shape[0]) // 2)
    # training=False: Resizing defaults to training=True, which Keras would pass on
    # to the backbone's batch normalization when the model is called without it.
    context = layers.Resizing(size, size, name="context_view")(inputs, training=False)
    try:
        feature_map = backbone_feature_map(context, backbone, weights, freeze_backbone)
    except ValueError as error:
        if "too small" not in str(error):
            raise
        raise ValueError(
            f"The backbone runs on the {size}x{size} glimpses and context view "
            f"(`glimpse_pixels`, by default half the input height): {error} Pass a larger "
            f"`glimpse_pixels` or `input_shape`. Received: glimpse_pixels={glimpse_pixels!r}"
        ) from error
    extractor = shared_backbone(context, feature_map)
    parts = {
        "context_pooling": layers.GlobalAveragePooling2D(name="context_pooling"),
        "initial_h": layers.Dense(units, activation="tanh", name="initial_h"),
        "initial_c": layers.Dense(units, activation="tanh", name="initial_c"),
        "locator": layers.Dense(2, activation="tanh", name="locator"),
        "glimpse_sensor": GlimpseSensor((size, size), scales, glimpse_size, name="glimpse_sensor"),
        "glimpse_pooling": layers.GlobalAveragePooling2D(name="glimpse_pooling"),
        "glimpse_features": layers.Concatenate(name="glimpse_features"),
        "glimpse_what": layers.Dense(units, activation="relu", name="glimpse_what"),
        "glimpse_where": layers.Dense(units, activation="relu", name="glimpse_where"),
        "glimpse": layers.Multiply(name="glimpse"),
        "lstm": layers.LSTMCell(units, name="lstm"),
    }
    for s in range(1, scales + 1):
        parts[f"glimpse_scale{s}"] = SelectStep(s - 1, axis=1, name=f"glimpse_scale{s}")
    out = _unroll(parts.__getitem__, extractor, inputs, feature_map, glimpses)
    boxes = GlimpseBoxes(glimpse_size, name="glimpse_boxes")(out["means"])
    # h_T is the embedding; the boxes ride along so the graph keeps "glimpse_boxes".
    pooled = Passthrough(name="pooler")([out["state"], boxes])
    logits = classification_head(pooled, num_classes, dropout)
    return RecurrentGlimpse(
        inputs,
        logits,
        name=name,
        mode=mode,
        location_std=location_std,
        reinforce_weight=reinforce_weight,
        seed=seed,
    )


@register_model(
    family="recurrent",
    paper=SERMANET_2015,
    year=2015,
    url="https://arxiv.org/abs/1412.7054",
    tags=("glimpse", "ram", "dram", "hard-attention", "recurrent", "reinforce", "multi-pass"),
    data_config={"input_size": (448, 448), "resize_size": 512},
    capabilities=("classify", "embed", "grad_cam", "glimpse_boxes", "multi_pass"),
)
def recurrent_glimpse(**kwargs):
    """An LSTM takes multi-resolution glimpses where it chooses (RAM/DRAM), REINFORCE-trained."""
    return build_recurrent_glimpse(
        **{"backbone": "resnet50", "name": "recurrent_glimpse", **kwargs}
    )
