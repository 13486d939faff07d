"""The hierarchical model: its recursion against NumPy, its loss, tree decoding, errors."""

import keras
import numpy as np
import pytest

import fgkeras
from fgkeras.data.label_tree import LabelTree
from fgkeras.data.synthetic import class_info
from fgkeras.evaluation.hierarchy import path_consistency
from fgkeras.models.hierarchical import HierarchicalModel
from fgkeras.testing import assert_keras_round_trip, random_inputs

TINY = {"backbone": "tiny", "weights": None, "input_shape": (32, 32, 3)}
INFO = class_info(8)
TREE = LabelTree(
    INFO.hierarchy_levels,
    [INFO.hierarchy_names[level] for level in INFO.hierarchy_levels],
    INFO.hierarchy,
)  # family (2) → genus (4) → species (8)


def build(**kwargs):
    options = {"label_tree": TREE, "units": 6, "label_embedding_dim": 3, **TINY, **kwargs}
    return fgkeras.build("hierarchical", num_classes=TREE.num_classes, **options)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def weights(model, name):
    return [np.asarray(w, "float64") for w in model.get_layer(name).weights]


def numpy_decoder(model, pooled, decoding="greedy", teacher=None):
    """The decoder's recursion in NumPy: raw and decoded logits of each level."""
    tree, cell = model.label_tree, model.get_layer("decoder_step").cell
    units = model.get_layer("decoder_step").units
    kernel, bias = weights(model, "decoder_init")
    state = np.tanh(pooled @ kernel + bias)
    h, c = state[:, :units], state[:, units:]
    kernel, bias = weights(model, "root_embedding")
    previous = pooled @ kernel + bias
    w, u, b = weights(model, "decoder_step")
    raw, decoded = [], []
    for level, name in enumerate(tree.levels):
        if cell == "gru":
            xw, hu = previous @ w + b[0], h @ u + b[1]
            z = sigmoid(xw[:, :units] + hu[:, :units])
            r = sigmoid(xw[:, units : 2 * units] + hu[:, units : 2 * units])
            h = z * h + (1 - z) * np.tanh(xw[:, 2 * units :] + r * hu[:, 2 * units :])
        else:
            g = previous @ w + h @ u + b
            i, f, cc, o = (g[:, k * units : (k + 1) * units] for k in range(4))
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(cc)
            h = sigmoid(o) * np.tanh(c)
        last = level == tree.num_levels - 1
        kernel, bias = weights(model, "predictions" if last else f"level_{name}")
        logits = h @ kernel + bias
        out = logits
        if level and decoding == "tree":
            allowed = tree.parents(level)[None, :] == decoded[-1].argmax(axis=1)[:, None]
            out = logits - 1e4 * ~allowed
        raw.append(logits)
        decoded.append(out)
        if not last:
            (table,) = weights(model, f"embedding_{name}")
            node = out.argmax(axis=1) if teacher is None else teacher[:, level]
            previous = table[node]
    return raw, decoded


def pooled_features(model, images, training=False):
    return np.asarray(model.run(images, training=training)["pooler"], "float64")


@pytest.mark.parametrize("cell, decoding", [("gru", "greedy"), ("lstm", "tree")])
def test_recursion_matches_numpy(cell, decoding):
    model = build(cell=cell, decoding=decoding)
    images = random_inputs((6, 32, 32, 3), seed=1, high=255.0)
    levels = keras.Model(model.input, model.level_outputs())(images, training=False)
    _, want = numpy_decoder(model, pooled_features(model, images), decoding)
    for got, expected in zip(levels, want):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(model(images, training=False), want[-1], rtol=1e-4, atol=1e-3)


def test_train_losses_sum_one_cross_entropy_per_level_with_teacher_forcing():
    model = build(level_weights=[0.5, 1.0, 2.0])
    images = random_inputs((4, 32, 32, 3), seed=2, high=255.0)
    labels = np.array([0, 3, 5, 7])
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    terms, logits = model.train_losses(images, labels, None, lambda z: cross_entropy(labels, z))

    targets = TREE.level_labels(labels)
    raw, _ = numpy_decoder(model, pooled_features(model, images, training=True), teacher=targets)

    def numpy_cross_entropy(z, y):
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))

    expected = [numpy_cross_entropy(z, targets[:, j]) for j, z in enumerate(raw)]
    for name, value in zip(("family_loss", "genus_loss", "species_loss"), expected):
        np.testing.assert_allclose(float(terms[name]), value, rtol=1e-4)
    np.testing.assert_allclose(float(terms["loss"]), np.dot([0.5, 1.0, 2.0], expected), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(logits), raw[-1], rtol=1e-4, atol=1e-3)


def test_tree_decoding_never_predicts_a_child_outside_the_predicted_parent():
    model = build(decoding="tree", units=16)
    images = random_inputs((32, 32, 32, 3), seed=3, high=255.0)
    levels = keras.Model(model.input, model.level_outputs())(images, training=False)
    nodes = np.stack([np.asarray(z).argmax(axis=1) for z in levels], axis=1)
    assert path_consistency(nodes, TREE) == 1.0
    np.testing.assert_array_equal(TREE.level_labels(nodes[:, -1]), nodes)  # one path per image
    probabilities = keras.ops.softmax(levels[-1]).numpy()
    outside = TREE.parents(2)[None, :] != nodes[:, 1:2]
    assert probabilities[outside].max() == 0.0


def test_set_decoding_switches_a_built_model_and_survives_saving():
    model = build()
    images = random_inputs((8, 32, 32, 3), seed=4, high=255.0)
    greedy = np.asarray(model(images, training=False))
    model.set_decoding("tree")
    assert model.decoding == "tree"
    loaded = assert_keras_round_trip(model, images, atol=1e-3)
    assert isinstance(loaded, HierarchicalModel) and loaded.decoding == "tree"
    assert loaded.label_tree == TREE and loaded.level_weights == [1.0, 1.0, 1.0]
    model.set_decoding("greedy")
    np.testing.assert_allclose(model(images, training=False), greedy, atol=1e-5)


def test_named_layers_and_card():
    model = build()
    names = [layer.name for layer in model.layers if layer.name.startswith("level_logits_")]
    assert names == ["level_logits_family", "level_logits_genus", "level_logits_species"]
    assert model.get_layer("level_genus").output.shape == (None, 4)
    assert model.output is model.get_layer("level_logits_species").output
    card = fgkeras.model_card("hierarchical")
    assert card["targets"] == ["label", "hierarchy"] and "level_logits" in card["capabilities"]
    assert "mixing" not in card["capabilities"]


def test_without_a_tree_the_decoder_is_one_level():
    model = fgkeras.build("hierarchical", num_classes=5, units=4, label_embedding_dim=2, **TINY)
    assert model.label_tree.levels == ["label"] and len(model.level_outputs()) == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_classes": 5}, "label tree has 8 classes and the model 5"),
        ({"decoding": "beam"}, "decoding"),
        ({"cell": "rnn"}, "cell"),
        ({"level_weights": [1.0, 2.0]}, "3 numbers >= 0"),
        ({"label_tree": {"a": "x"}}, "from_child_parent"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, match):
    options = {"num_classes": 8, "label_tree": TREE, "units": 4, "label_embedding_dim": 2, **TINY}
    with pytest.raises(ValueError, match=match):
        fgkeras.build("hierarchical", **{**options, **kwargs})
