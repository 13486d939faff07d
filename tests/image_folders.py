"""A tiny folder of class subfolders of PNG files, for tests that need a plain source."""

import numpy as np
import tensorflow as tf


def write_class_folder(root, classes=("a", "b"), per_class=2, size=8):
    """Write ``root/<class>/<i>.png`` (flat grey images) and return ``root`` as a string."""
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.full((size, size, 3), 60 * i, np.uint8)
            tf.io.write_file(str(root / name / f"{i}.png"), tf.io.encode_png(pixels))
    return str(root)
