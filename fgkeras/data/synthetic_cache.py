"""A disk cache of the synthetic dataset, so each split is drawn once per machine.

Drawing the default training split (4,000 birds at 64 px) takes several
seconds of NumPy on 2 cores, and every new process (a CLI command, a
notebook kernel, a worker of the test suite) used to draw it again. The
arrays of a split are written once to ``<cache>/synthetic/<key>.npz`` and
read back in milliseconds. The key holds every argument of
:func:`fgkeras.data.synthetic.generate` and a hash of the generator's source
file, so changing the generator never serves stale birds.

The folder is ``$FGKERAS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/fgkeras``,
else ``~/.cache/fgkeras``. ``FGKERAS_CACHE_DIR=""`` turns the cache off. A
cache that cannot be written (read-only home) or a damaged file only costs
the time of drawing the split again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import zipfile

import numpy as np

from fgkeras.data import synthetic

# Small splits draw faster than a file round trip is worth keeping.
MIN_CACHED_EXAMPLES = 256
_ARRAYS = ("images", "labels", "bbox", "part_bbox", "attributes", "text", "hierarchy")


def cache_dir() -> str | None:
    """The folder of fgkeras' caches, or None when ``FGKERAS_CACHE_DIR=""``.

    >>> import os
    >>> os.environ["FGKERAS_CACHE_DIR"] = "/tmp/fgk"
    >>> cache_dir()
    '/tmp/fgk'
    >>> del os.environ["FGKERAS_CACHE_DIR"]
    """
    configured = os.environ.get("FGKERAS_CACHE_DIR")
    if configured is not None:
        return configured or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fgkeras")


@functools.cache  # the source does not change under a running process
def _generator_hash() -> str:
    with open(synthetic.__file__, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()[:12]


def cache_path(folder, split, num_examples, num_classes, image_size, difficulty, seed) -> str:
    """Where the split with these arguments is cached under ``folder``.

    >>> cache_path("/c", "test", 1000, 8, 64, 0.5, 0).startswith("/c/synthetic/test-n1000-")
    True
    """
    name = (
        f"{split}-n{num_examples}-c{num_classes}-s{image_size}-d{float(difficulty):g}"
        f"-seed{seed}-{_generator_hash()}.npz"
    )
    return os.path.join(folder, "synthetic", name)


def generate(num_examples=None, *, num_classes=8, image_size=64, difficulty=0.5, seed=0,
             split="train") -> synthetic.SyntheticData:  # fmt: skip
    """:func:`fgkeras.data.synthetic.generate`, read from the disk cache when it holds the split.

    Same arguments and the same arrays; the first call for a split draws and
    writes it, later calls (in any process) read it.

    >>> a = generate(300, num_classes=4, image_size=32, seed=3, split="test")
    >>> b = synthetic.generate(300, num_classes=4, image_size=32, seed=3, split="test")
    >>> bool((a.images == b.images).all()) and bool((a.text == b.text).all())
    True
    """
    if num_examples is None:
        num_examples = synthetic.DEFAULT_NUM_EXAMPLES.get(split)
    arguments = dict(num_classes=num_classes, image_size=image_size, difficulty=difficulty,
                     seed=seed, split=split)  # fmt: skip
    folder = cache_dir()
    if folder is None or num_examples is None or num_examples < MIN_CACHED_EXAMPLES:
        return synthetic.generate(num_examples, **arguments)
    path = cache_path(folder, split, num_examples, num_classes, image_size, difficulty, seed)
    cached = _read(path, num_classes)
    if cached is not None:
        return cached
    data = synthetic.generate(num_examples, **arguments)  # validates the arguments
    _write(path, data)
    return data


def _read(path, num_classes):
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in _ARRAYS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None  # absent or damaged: draw again (and overwrite)
    return synthetic.SyntheticData(**arrays, info=synthetic.class_info(int(num_classes)))


def _write(path, data) -> None:
    partial = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".partial")
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **{name: getattr(data, name) for name in _ARRAYS})
        os.replace(partial, path)  # atomic: concurrent processes never read half a file
    except OSError:
        if partial is not None and os.path.exists(partial):
            os.remove(partial)
        # an unwritable cache only costs drawing the split again
