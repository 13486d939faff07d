"""Data: sources, tf.data pipelines and on-device augmentation.

>>> import fgkeras.data as fd
>>> ds = fd.load("synthetic", "test", image_size=32, batch_size=2, num_examples=4)
>>> len(ds.class_names)
8
"""

from fgkeras.data import label_tree, synthetic
from fgkeras.data.augment import build_augmenter
from fgkeras.data.files import ImageFileError
from fgkeras.data.pipeline import load
from fgkeras.data.sources import list_sources
from fgkeras.data.tfrecords import pack

__all__ = [
    "ImageFileError",
    "build_augmenter",
    "label_tree",
    "list_sources",
    "load",
    "pack",
    "synthetic",
]
