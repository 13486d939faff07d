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


# What a model can do, declared on its card; the registry-wide tests run the
# checks of each capability a model declares, and training, explanation and
# export read them instead of guessing from the model's class.
CAPABILITIES = {
    "classify": "the main output is the finest-level class logits (batch, num_classes)",
    "embed": 'a layer named "pooler" outputs the image embedding (batch, dim)',
    "grad_cam": 'a layer named "feature_map" outputs the spatial map Grad-CAM explains',
    "attention_maps": 'layers named "attention_maps*" output the model\'s own maps',
    "glimpse_boxes": 'a layer named "glimpse_boxes" outputs the (batch, glimpses, 4) '
    "normalized [ymin, xmin, ymax, xmax] boxes the model looked at",
    "level_logits": 'layers named "level_logits_<level>" output the logits of each level of '
    "the model's label tree, coarse first; the last one is the main output",
    "mixing": "trains on soft (MixUp/CutMix) labels; models whose extra losses need "
    "integer labels leave it out",
    "multi_pass": "training runs more than one pass per batch (its own `train_losses`)",
    "attribute_logits": 'a layer named "attribute_logits" outputs one logit per attribute '
    "(batch, attributes); the model trains on the data's attributes feature",
    "text_embedding": 'the "predictions" layer scores classes by their text descriptions '
    "(DescriptionScores); the model embeds strings in the images' space (`embed_text`) and "
    "fgkeras.models.image_text.with_descriptions recognises classes from text alone",
    "side_input": 'the model takes a second input "attributes" (batch, A): a side vector known '
    "at inference time, NaN where an entry is unknown; images alone mean all unknown",
    "zero_shot": 'the "predictions" layer scores classes by their attribute vectors '
    "(AttributeCompatibility); fgkeras.models.zero_shot.with_class_attributes recognises "
    "classes never seen in training",
}
DEFAULT_CAPABILITIES = ("classify", "embed", "grad_cam", "mixing")
LOSSES = ("cross_entropy",)


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
    features: tuple[str, ...] = ("image",)
    targets: tuple[str, ...] = ("label",)
    loss: str = "cross_entropy"
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    monitor: str = "val_accuracy"
    paper_results: dict = dataclasses.field(default_factory=dict)


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
    features: tuple[str, ...] = ("image",),
    targets: tuple[str, ...] = ("label",),
    loss: str = "cross_entropy",
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES,
    monitor: str = "val_accuracy",
    paper_results: dict | None = None,
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
        features: data features the model consumes, by their
            `fgkeras.data.load` names; a model with several takes a dict keyed
            by them. Defaults to ("image",).
        targets: what it trains on ("label", or more for multi-task models).
            Defaults to ("label",).
        loss: its default training loss. Defaults to "cross_entropy".
        capabilities: keys of `CAPABILITIES`. Defaults to
            `DEFAULT_CAPABILITIES`.
        monitor: the validation metric that picks the best checkpoint.
            Defaults to "val_accuracy".
        paper_results: top-1 accuracy (a fraction in (0, 1]) the paper reports,
            by dataset name, e.g. ``{"CUB-200-2011": 0.840}``; `configs/` holds
            the recipes that aim at them. Defaults to None (none stated).

    Example:

    >>> @register_model(family="cnn", paper="A doctest model", year=2024,
    ...                 paper_results={"CUB-200-2011": 0.5})
    ... def doctest_model(**kwargs):
    ...     return build("baseline", **{"backbone": "tiny", **kwargs})
    >>> "doctest_model" in list_models()
    True
    >>> model_card("doctest_model")["paper_results"]
    {'CUB-200-2011': 0.5}
    >>> _ = unregister_model("doctest_model")
    """

    def decorate(builder: Callable) -> Callable:
        name = builder.__name__
        if name in _REGISTRY:
            raise ValueError(f"A model named '{name}' is already registered.")
        unknown = sorted(set(capabilities) - set(CAPABILITIES))
        if unknown:
            raise ValueError(
                f"Unknown capabilities {unknown} for model {name!r}; known: "
                f"{sorted(CAPABILITIES)}. Received: capabilities={capabilities!r}"
            )
        if "image" not in features:
            raise ValueError(f"Every model takes an image. Received: features={features!r}")
        _check_paper_results(name, paper_results)
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
            features=tuple(features),
            targets=tuple(targets),
            loss=loss,
            capabilities=tuple(capabilities),
            monitor=monitor,
            paper_results=dict(paper_results or {}),
        )
        return builder

    return decorate(fn) if fn is not None else decorate


def _check_paper_results(name: str, paper_results) -> None:
    """Refuse a ``paper_results`` that is not {dataset name: top-1 fraction in (0, 1]}."""
    if paper_results is None:
        return
    if not isinstance(paper_results, dict) or not all(
        isinstance(dataset, str)
        and isinstance(accuracy, int | float)
        and not isinstance(accuracy, bool)
        and 0 < accuracy <= 1
        for dataset, accuracy in paper_results.items()
    ):
        raise ValueError(
            f"`paper_results` of model {name!r} must map dataset names to top-1 accuracy as a "
            f'fraction in (0, 1], e.g. {{"CUB-200-2011": 0.84}}. '
            f"Received: paper_results={paper_results!r}"
        )


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
        **kwargs: arguments of the model's builder, and ``embedding_dim``
            (any single-pass model): a learned projection of the pooled
            features to this many dimensions, the embedding metric losses
            train (see `fgkeras.models.heads.add_embedding_projection`).

    Returns:
        A `keras.Model` that takes raw 0-255 RGB pixels and returns logits.

    >>> import fgkeras
    >>> model = fgkeras.build("baseline", num_classes=3, backbone="tiny",
    ...                       weights=None, input_shape=(32, 32, 3))
    >>> model.output_shape
    (None, 3)
    """
    embedding_dim = kwargs.pop("embedding_dim", None)
    model = _entry(name).builder(**kwargs)
    if embedding_dim is None:
        return model
    from fgkeras.models.heads import add_embedding_projection

    return add_embedding_projection(model, embedding_dim)


def model_card(name: str) -> dict:
    """What a user needs to know about a model: paper, family, data config, contract.

    The contract part says what training, evaluation and export rely on:
    ``features`` (inputs by data feature name), ``targets``, default
    ``loss``, ``capabilities`` (see `CAPABILITIES`) and the ``monitor``
    metric of the best checkpoint. ``paper_results`` is the top-1 accuracy
    the paper reports per dataset (a fraction; not reproduced by this
    project unless its benchmarks say so); `configs/` holds the recipes.

    >>> import fgkeras
    >>> card = fgkeras.model_card("bcnn")
    >>> card["year"], card["data_config"]["input_size"]
    (2015, (448, 448))
    >>> card["features"], card["loss"], "mixing" in card["capabilities"]
    (['image'], 'cross_entropy', True)
    >>> card["paper_results"]["CUB-200-2011"]
    0.84
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
        "features": list(entry.features),
        "targets": list(entry.targets),
        "loss": entry.loss,
        "capabilities": list(entry.capabilities),
        "monitor": entry.monitor,
        "paper_results": dict(entry.paper_results),
    }


def _entry(name: str) -> ModelEntry:
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown model name: {name!r}.{hint} "
        f"Available models: {', '.join(sorted(_REGISTRY))}. Received: name={name!r}"
    )
