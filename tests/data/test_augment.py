import keras
import numpy as np
import pytest
import tensorflow as tf

import fgkeras.data as fd
from fgkeras.cli import data as data_command
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
