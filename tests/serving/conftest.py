"""Fixtures of the export tests: one baseline model exported once for the package."""

import pytest
import tensorflow as tf
from export_helpers import CLASS_NAMES, build


@pytest.fixture(scope="package")
def exported(tmp_path_factory):
    """A baseline model exported once: ``(model, version_dir, loaded SavedModel)``."""
    from fgkeras.serving.savedmodel import export

    model = build("baseline")
    path = export(model, tmp_path_factory.mktemp("export") / "baseline", class_names=CLASS_NAMES)
    loaded = tf.saved_model.load(path)
    return model, path, loaded
