"""The model registry: build any model of the zoo by name.

A model is registered by decorating a tiny function whose own name becomes the
model's name and whose body passes a visible dict of arguments to one family
builder (house style, after timm's ``_registry.py``):

    @register_model(family="bilinear", paper="...", year=2015, url="...")
    def bcnn(**kwargs):
        return build_bcnn(**{"backbone": "vgg16", **kwargs})

``build`` passes keyword arguments through exactly as given, so
``weights=None`` means random initialization, as in ``keras.applications``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import fnmatch
from collections.abc import Callable

import keras

DEFAULT_DATA_CONFIG = {
    "input_size": (224, 224),
    "resize_size": 256,
    "train_crop": "random",
    "eval_crop": "center",
    "interpolation": "bilinear",
    "pixel_range": (0, 255),
    "preprocessing": "inside the model (backbone-specific)",
}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model."""

    name: str
    builder: Callable[..., keras.Model]
    family: str
    paper: str
    year: int | None
    url: str
    tags: tuple[str, ...]
    data_config: dict
    summary: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    fn: Callable | None = None,
    *,
    family: str = "cnn",
    paper: str = "",
    year: int | None = None,
    url: str = "",
    tags: tuple[str, ...] = (),
    data_config: dict | None = None,
):
    """Register a model-building function under its own name.

    Args:
        fn: the builder; its ``__name__`` is the model name.
        family: method family of the article ("cnn", "bilinear", "attention", ...).
            Defaults to "cnn".
        paper: title of the paper the model follows. Defaults to "".
        year: publication year. Defaults to None.
        url: link to the paper. Defaults to "".
        tags: extra words that `list_models` patterns match. Defaults to ().
        data_config: overrides of `DEFAULT_DATA_CONFIG` (input size, resize,
            crops). Defaults to None.

    Example:

    >>> @register_model(family="cnn", paper="A doctest model", year=2024)
    ... def doctest_model(**kwargs):
    ...     return build("baseline", **{"backbone": "tiny", **kwargs})
    >>> "doctest_model" in list_models()
    True
    >>> _ = unregister_model("doctest_model")
    """

    def decorate(builder: Callable) -> Callable:
        name = builder.__name__
        if name in _REGISTRY:
            raise ValueError(f"A model named '{name}' is already registered.")
        doc = (builder.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelEntry(
            name=name,
            builder=builder,
            family=family,
            paper=paper,
            year=year,
            url=url,
            tags=tuple(tags),
            data_config={**DEFAULT_DATA_CONFIG, **(data_config or {})},
            summary=doc[0] if doc else "",
        )
        return builder

    return decorate(fn) if fn is not None else decorate


def unregister_model(name: str) -> ModelEntry:
    """Remove a model from the registry and return its entry.

    >>> @register_model
    ... def throwaway(**kwargs):
    ...     return None
    >>> unregister_model("throwaway").name
    'throwaway'
    """
    return _REGISTRY.pop(_entry(name).name)


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of registered models, optionally filtered.

    Args:
        pattern: an `fnmatch` pattern matched against each model's name, family
            and tags (e.g. ``"*bilinear*"``). Defaults to None (all models).

    >>> import fgkeras
    >>> fgkeras.list_models("bcnn")
    ['bcnn']
    >>> "cbp" in fgkeras.list_models("*bilinear*")
    True
    """
    _import_model_families()
    names = sorted(_REGISTRY)
    if pattern is None:
        return names
    return [
        name
        for name in names
        if any(
            fnmatch.fnmatch(word, pattern)
            for word in (name, _REGISTRY[name].family, *_REGISTRY[name].tags)
        )
    ]


def build(name: str, **kwargs) -> keras.Model:
    """Build a registered model by name.

    Arguments are passed through as given; see each family builder for its
    options (``num_classes``, ``backbone``, ``weights``, ``input_shape``, ...).

    Args:
        name: a name from `list_models()`.
        **kwargs: arguments of the model's builder.

    Returns:
        A `keras.Model` that takes raw 0-255 RGB pixels and returns logits.

    >>> import fgkeras
    >>> model = fgkeras.build("baseline", num_classes=3, backbone="tiny",
    ...                       weights=None, input_shape=(32, 32, 3))
    >>> model.output_shape
    (None, 3)
    """
    return _entry(name).builder(**kwargs)


def model_card(name: str) -> dict:
    """What a user needs to know about a model: paper, family, data config.

    >>> import fgkeras
    >>> card = fgkeras.model_card("bcnn")
    >>> card["year"], card["data_config"]["input_size"]
    (2015, (448, 448))
    """
    entry = _entry(name)
    return {
        "name": entry.name,
        "summary": entry.summary,
        "family": entry.family,
        "paper": entry.paper,
        "year": entry.year,
        "url": entry.url,
        "tags": list(entry.tags),
        "data_config": copy.deepcopy(entry.data_config),
    }


def _entry(name: str) -> ModelEntry:
    _import_model_families()
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown model name: {name!r}.{hint} "
        f"Available models: {', '.join(sorted(_REGISTRY))}. Received: name={name!r}"
    )


def _import_model_families() -> None:
    # Model families register themselves on import; importing here (not at
    # package import time) keeps `import fgkeras.registry` free of cycles.
    import fgkeras.models  # noqa: F401
