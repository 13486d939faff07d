import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras.data as fd
from fgkeras.commands import data as data_command
from fgkeras.data.augment import POLICIES


def tiny_model(num_classes=3):
    return keras.Sequential(
        [keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255.0),
         keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D(),
         keras.layers.Dense(num_classes)]
    )  # fmt: skip


@pytest.mark.parametrize("policy", POLICIES)
def test_policies_preserve_shape_and_are_inactive_in_inference(policy):
    aug = fd.build_augmenter(policy, seed=1)
    x = tf.random.stateless_uniform([4, 16, 16, 3], seed=[1, 2], maxval=255.0)
    out = aug(x, training=True)
    assert out.shape == x.shape
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 255.0
    np.testing.assert_array_equal(aug(x, training=False).numpy(), x.numpy())
    if policy != "none":
        assert not np.allclose(out.numpy(), x.numpy())


def test_policies_work_inside_dataset_map():
    aug = fd.build_augmenter("fgvc", seed=0)
    ds = tf.data.Dataset.from_tensors(tf.fill([2, 16, 16, 3], 100.0))
    out = next(iter(ds.map(lambda x: aug(x, training=True))))
    assert out.shape == (2, 16, 16, 3)


def test_unknown_policy():
    with pytest.raises(ValueError, match="policy must be one of"):
        fd.build_augmenter("heavy")


def test_augmented_trains_with_augmentation_and_evaluates_without(tmp_path):
    inner = tiny_model()
    wrapped = fd.Augmented(inner, fd.build_augmenter("strong", seed=0))
    wrapped.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ds = fd.load("synthetic", "train", image_size=16, batch_size=8, num_examples=16,
                 num_classes=3)  # fmt: skip
    wrapped.fit(ds, epochs=1, verbose=0)
    x = next(iter(ds))[0]
    np.testing.assert_allclose(wrapped.predict(x, verbose=0), inner.predict(x, verbose=0),
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(wrapped(x), inner(x, training=False), atol=1e-6)
    trained = wrapped(x, training=True).numpy()
    assert not np.allclose(trained, inner(x, training=True).numpy(), atol=1e-4)
    path = str(tmp_path / "wrapped.keras")
    wrapped.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, fd.Augmented)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), wrapped.predict(x, verbose=0),
                               atol=1e-5)  # fmt: skip


def test_cli_pack(tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    data_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "pack", "synthetic", "--to", str(tmp_path),
                              "--splits", "train,test", "--num-examples", "6",
                              "--shard-size", "4"])  # fmt: skip
    assert args.func(args) == 0
    assert "train: 6 examples in 2 shard(s)" in capsys.readouterr().out
    ds = fd.load(str(tmp_path), "test", image_size=16, batch_size=6)
    assert next(iter(ds))[0].shape == (6, 16, 16, 3)
    args = parser.parse_args(["data", "sources"])
    assert args.func(args) == 0 and "synthetic" in capsys.readouterr().out
