"""AdaBN (`fgkeras.training.adaptation`): exact target statistics in every BatchNorm layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras
from fgkeras.training.adaptation import adapt_batchnorm, batchnorm_layers


def nested_model():
    """Conv + BN twice inside a nested model, then conv + BN in the outer one."""
    keras.utils.set_random_seed(0)
    inner_in = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv1")(inner_in)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    inner = keras.Model(inner_in, x, name="inner")
    outer_in = keras.Input((6, 6, 3))
    x = inner(outer_in)
    x = keras.layers.Conv2D(5, 3, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn3")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(outer_in, keras.layers.Dense(2)(x), name="nested")


def target_images(count=70, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(5.0, 3.0, (count, 6, 6, 3)) * [1.0, 0.5, 2.0]).astype("float32")


def layer_inputs(model, images):
    """{bn name: NumPy inputs of that layer} in the (adapted) model, inference mode."""
    inner = model.get_layer("inner")
    probe = keras.Model(
        inner.input, [inner.get_layer("conv1").output, inner.get_layer("relu1").output]
    )
    bn1_in, bn2_in = (np.asarray(v, np.float64) for v in probe(images, training=False))
    bn3_probe = keras.Model(model.input, model.get_layer("conv2").output)
    return {"bn1": bn1_in, "bn2": bn2_in, "bn3": np.asarray(bn3_probe(images, training=False))}


def assert_matches_inputs(model, layers, inputs):
    for name, layer in layers.items():
        x = inputs[name].reshape(-1, inputs[name].shape[-1])
        np.testing.assert_allclose(layer.moving_mean, x.mean(axis=0), atol=1e-5, err_msg=name)
        np.testing.assert_allclose(layer.moving_variance, x.var(axis=0), atol=1e-5, rtol=1e-6)


def test_every_layer_gets_the_mean_and_variance_of_its_inputs_on_the_target_data():
    model = nested_model()
    images = target_images()
    adapted = adapt_batchnorm(model, images, batch_size=32)  # 70 images: a ragged last batch
    layers = {name: adapted.get_layer("inner").get_layer(name) for name in ("bn1", "bn2")}
    layers["bn3"] = adapted.get_layer("bn3")
    assert_matches_inputs(adapted, layers, layer_inputs(adapted, images))
    # Before adaptation the statistics were Keras' initial ones (0 and 1): far from these.
    assert np.abs(np.asarray(layers["bn1"].moving_mean)).max() > 1.0


def test_nested_layers_are_found_with_their_paths():
    assert [path for path, _ in batchnorm_layers(nested_model())] == [
        "inner/bn1",
        "inner/bn2",
        "bn3",
    ]


def test_the_tiny_backbone_of_a_zoo_model_is_adapted():
    model = fgkeras.build(
        "baseline", num_classes=3, backbone="tiny", weights=None, input_shape=(16, 16, 3)
    )
    images = np.random.default_rng(1).uniform(0, 120, (40, 16, 16, 3)).astype("float32")
    adapted = adapt_batchnorm(model, images, copy=False)
    assert adapted is model
    backbone = model.get_layer("backbone")
    found = batchnorm_layers(model)
    assert len(found) == 4 and all(path.startswith("backbone/") for path, _ in found)
    for _, layer in found:
        conv = backbone.get_layer(layer.name.removesuffix("_bn"))
        x = np.asarray(keras.Model(backbone.input, conv.output)(images, training=False), np.float64)
        x = x.reshape(-1, x.shape[-1])
        np.testing.assert_allclose(layer.moving_mean, x.mean(axis=0), atol=1e-5)
        np.testing.assert_allclose(layer.moving_variance, x.var(axis=0), atol=1e-5, rtol=1e-6)


def test_a_copy_leaves_the_original_untouched():
    model = nested_model()
    before = [np.array(w) for w in model.get_weights()]
    adapted = adapt_batchnorm(model, target_images())
    assert adapted is not model
    for old, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, now)
    changed = [not np.allclose(a, b) for a, b in zip(model.get_weights(), adapted.get_weights())]
    assert sum(changed) == 6  # moving mean and variance of the three BN layers, nothing else


def test_datasets_with_labels_and_any_batching_give_the_same_statistics():
    model = nested_model()
    images = target_images()
    labels = np.zeros(len(images), "int32")
    from_array = adapt_batchnorm(model, images, batch_size=64)
    from_dataset = adapt_batchnorm(
        model, tf.data.Dataset.from_tensor_slices((images, labels)).batch(9)
    )
    for a, b in zip(from_array.get_weights(), from_dataset.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_a_generator_of_batches_is_read_once_and_kept_for_every_pass():
    model = nested_model()
    images = target_images()
    from_array = adapt_batchnorm(model, images)
    batches = (images[start : start + 16] for start in range(0, len(images), 16))
    from_generator = adapt_batchnorm(model, batches)
    for a, b in zip(from_array.get_weights(), from_generator.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_adabn_undoes_a_contrast_change_before_a_linear_conv():
    # conv (no bias) -> BN: scaling the images by 0.3 scales the BN inputs by 0.3,
    # so after adapting to each domain the outputs are the same.
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, use_bias=False)(inputs)
    model = keras.Model(inputs, keras.layers.BatchNormalization(epsilon=1e-6)(x))
    source = target_images()
    on_source = adapt_batchnorm(model, source)
    on_target = adapt_batchnorm(model, 0.3 * source)
    np.testing.assert_allclose(
        on_target(0.3 * source, training=False), on_source(source, training=False), atol=1e-3
    )
    unadapted = np.asarray(on_source(0.3 * source, training=False))
    assert np.abs(unadapted - np.asarray(on_source(source, training=False))).max() > 0.5


def test_a_model_without_batchnorm_is_refused_by_name():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="plain_mlp")
    with pytest.raises(ValueError, match="'plain_mlp' has no BatchNormalization"):
        adapt_batchnorm(model, np.zeros((3, 4), "float32"))


@pytest.mark.parametrize(
    "data",
    [
        np.zeros((0, 6, 6, 3), "float32"),
        [],
        tf.data.Dataset.from_tensor_slices(np.zeros((0, 6, 6, 3))).batch(4),
        iter([]),
    ],
)
def test_empty_data_is_refused(data):
    with pytest.raises(ValueError, match="holds no images"):
        adapt_batchnorm(nested_model(), data)


def test_bad_arguments_say_what_was_received():
    with pytest.raises(ValueError, match="needs a keras.Model.*str"):
        adapt_batchnorm("run_dir", target_images())
    with pytest.raises(ValueError, match="batch_size=0"):
        adapt_batchnorm(nested_model(), target_images(), batch_size=0)
    with pytest.raises(ValueError, match="Received: data of type int"):
        adapt_batchnorm(nested_model(), 3)
    with pytest.raises(ValueError, match="same number of images"):
        adapt_batchnorm(nested_model(), {"a": np.zeros((2, 6, 6, 3)), "b": np.zeros((3, 6))})
