"""Test-wide set-up: no network, no user caches, quiet TensorFlow.

Environment variables are set before TensorFlow is imported so that the
library never writes to the user's ``~/.keras`` or ``~/tensorflow_datasets``.
"""

import os
import tempfile

_SANDBOX = tempfile.mkdtemp(prefix="fgkeras-tests-")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_HOME"] = os.path.join(_SANDBOX, "keras")
os.environ["TFDS_DATA_DIR"] = os.path.join(_SANDBOX, "tfds")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same random state."""
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()
