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
