"""Reading and writing a run's configuration files (JSON, or YAML if installed)."""

from __future__ import annotations

import json
import os


def write_json(path: str, value) -> None:
    """Write ``value`` as indented JSON, atomically (temp file, then rename).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.json")
    >>> write_json(path, {"a": 1}); open(path).read()
    '{\\n  "a": 1\\n}'
    """
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        json.dump(value, file, indent=2, default=_jsonable)
    os.replace(temporary, path)


def _jsonable(value):
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def load_config_file(path: str, allowed: set[str]) -> dict:
    """Read a JSON or YAML file of arguments; reject names not in ``allowed``.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "run.json")
    >>> write_json(path, {"epochs": 3})
    >>> load_config_file(path, allowed={"epochs"})
    {'epochs': 3}
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Config file not found: {path!r}")
    with open(path) as file:
        text = file.read()
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError as error:
            raise ValueError(
                f"Reading {path!r} needs PyYAML (pip install pyyaml), or use a JSON file."
            ) from error
        values = yaml.safe_load(text) or {}
    else:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"Config file {path!r} is not valid JSON: {error}") from error
    if not isinstance(values, dict):
        raise ValueError(f"Config file {path!r} must hold a mapping of argument names to values.")
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f"Unknown arguments in config file {path!r}: {', '.join(unknown)}")
    return values


def run_config_matches(path: str, arguments: dict) -> bool:
    """True when the config stored at ``path`` equals ``arguments`` (as JSON).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "config.json")
    >>> write_json(path, {"epochs": 3, "image_size": (28, 28)})
    >>> run_config_matches(path, {"epochs": 3, "image_size": (28, 28)})
    True
    """
    with open(path) as file:
        stored = json.load(file)
    return stored == json.loads(json.dumps(arguments, default=_jsonable))


# checkpoint name -> file in the run directory
CHECKPOINTS = {"final": "model.keras", "last": "last.keras", "best": "best.keras"}
RUN_DIR_HINT = "Pass the folder that fgkeras train wrote (it holds config.json and model.keras)."


class RunDirectory:
    """The one reader of a training run directory: config, class names, checkpoints.

    ``evaluate``, ``predict``, ``explain`` and ``export`` all read runs
    through it, so a run folder means the same thing to every command.
    Checkpoints: ``"final"`` (``model.keras``, written when the run ends),
    ``"last"`` (``last.keras``, after the last completed epoch; falls back to
    ``model.keras`` for runs that wrote none) and ``"best"`` (``best.keras``,
    best validation score of the model card's ``monitor`` metric).

    Args:
        path: the run directory.

    >>> RunDirectory("/no/such/run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: Run directory not found: '/no/such/run'. Pass the folder ...
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise FileNotFoundError(f"Run directory not found: {self.path!r}. {RUN_DIR_HINT}")
        self._config = None

    @staticmethod
    def is_run_dir(path) -> bool:
        """True when ``path`` is a folder holding a run's ``config.json`` or ``model.keras``.

        >>> RunDirectory.is_run_dir("/no/such/run")
        False
        """
        path = os.fspath(path)
        return os.path.isdir(path) and any(
            os.path.isfile(os.path.join(path, name)) for name in ("config.json", "model.keras")
        )

    def file(self, name: str) -> str:
        """The path of ``name`` inside the run directory."""
        return os.path.join(self.path, name)

    @property
    def config(self) -> dict:
        """The run's ``config.json`` (an empty dict when it has none)."""
        if self._config is None:
            self._config = _read_json(self.file("config.json"), default={})
            if not isinstance(self._config, dict):
                raise ValueError(f"{self.file('config.json')!r} does not hold a JSON object.")
        return self._config

    @property
    def class_names(self) -> list | None:
        """The run's class names (``class_names.json``), or None."""
        names = _read_json(self.file("class_names.json"), default=None)
        if names is not None and not isinstance(names, list):
            raise ValueError(f"{self.file('class_names.json')!r} does not hold a JSON list.")
        return None if names is None else [str(name) for name in names]

    def model_path(self, checkpoint: str = "final") -> str:
        """The ``.keras`` file of ``checkpoint``; FileNotFoundError saying what to try."""
        if checkpoint not in CHECKPOINTS:
            raise ValueError(
                f"`checkpoint` must be one of {list(CHECKPOINTS)}. "
                f"Received: checkpoint={checkpoint!r}"
            )
        path = self.file(CHECKPOINTS[checkpoint])
        if checkpoint == "last" and not os.path.isfile(path):
            path = self.file(CHECKPOINTS["final"])
        if not os.path.isfile(path):
            other = "--checkpoint final" if checkpoint == "best" else "a finished run"
            raise FileNotFoundError(
                f"No {CHECKPOINTS[checkpoint]} in {self.path!r}; try {other}. {RUN_DIR_HINT}"
            )
        return path

    def load_model(self, checkpoint: str = "final"):
        """Load a checkpoint as a `keras.Model` (see `load_keras_model`)."""
        return load_keras_model(self.model_path(checkpoint))

    def data_options(self) -> dict:
        """What re-creating the run's data needs: source, size, resize, options.

        Raises ValueError when the config cannot say where the data came from.
        """
        if not os.path.isfile(self.file("config.json")):
            raise FileNotFoundError(f"No config.json in {self.path!r}. {RUN_DIR_HINT}")
        config = self.config
        if "source" not in config:
            raise ValueError(
                f"{self.file('config.json')!r} has no 'source' entry; cannot re-create the data."
            )
        options = {key: config[key] for key in RUN_DATA_OPTIONS if config.get(key) is not None}
        return {
            "source": config["source"],
            "split": config.get("split") or "train",
            "val_split": config.get("val_split") or "test",
            "image_size": config.get("image_size"),
            "batch_size": config.get("batch_size") or 32,
            "options": options,
            "source_options": dict(config.get("source_options") or {}),
        }


# Data arguments of a run's config.json that evaluation must repeat.
RUN_DATA_OPTIONS = ("resize_size", "bbox_crop", "channels", "limit", "classes")


def load_model_source(path, checkpoint: str = "final"):
    """``(model, run)`` of a run directory (``run`` its `RunDirectory`) or a .keras file (None).

    What ``fgkeras export`` and ``fgkeras explain`` accept as their model.

    >>> load_model_source("/no/such/run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: No model found at '/no/such/run': pass a run directory ...
    """
    path = os.fspath(path)
    if RunDirectory.is_run_dir(path):
        run = RunDirectory(path)
        return run.load_model(checkpoint), run
    if os.path.isfile(path) and path.endswith(".keras"):
        return load_keras_model(path), None
    raise FileNotFoundError(
        f"No model found at {path!r}: pass a run directory (with model.keras) or a .keras file."
    )


def load_keras_model(path, compile: bool = False):
    """Load a ``.keras`` file of any zoo model; a clear error when it cannot be.

    The zoo's classes are registered by ``import fgkeras``, which importing
    this module has done. A file that is not a Keras archive, or that names
    classes nobody registered, is a ValueError naming the file.

    >>> load_keras_model("/no/such/model.keras")
    Traceback (most recent call last):
    ...
    FileNotFoundError: Model file not found: '/no/such/model.keras'.
    """
    import keras

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Model file not found: {path!r}.")
    try:
        return keras.models.load_model(path, compile=compile)
    except (ValueError, TypeError, OSError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"Cannot load the Keras model {path!r}: {first[:300]}") from error


def _read_json(path: str, default):
    if not os.path.isfile(path):
        return default
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path!r} is not valid JSON: {error}") from error
