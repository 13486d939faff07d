"""Few-shot recognition with a model's embeddings: N-way K-shot episodes.

An *episode* draws ``ways`` classes, then ``shots`` support and ``queries``
query images of each (without overlap). Each class's *prototype* is the mean
of its L2-normalised support embeddings; each query gets the class of the
nearest prototype by cosine similarity (Snell et al., "Prototypical Networks
for Few-shot Learning", NeurIPS 2017, https://arxiv.org/abs/1703.05175, used
here without training on episodes). The score is the mean query accuracy over
``episodes`` episodes, with its 95 % confidence interval half-width
``1.96 * std / sqrt(episodes)``, as few-shot papers report it.

`few_shot_episodes` is pure NumPy; `evaluate_few_shot` loads a split, embeds
it with `fgkeras.evaluation.retrieval.embed_dataset` and runs the episodes.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

__all__ = ["evaluate_few_shot", "few_shot_episodes"]


def few_shot_episodes(
    embeddings, labels, ways, shots, queries, episodes, seed=0, classes=None, class_names=None
) -> dict:
    """Accuracy of nearest-prototype classification over random N-way K-shot episodes.

    Args:
        embeddings: float array ``[N, D]``.
        labels: ``N`` int class labels.
        ways: classes per episode (>= 2).
        shots: support images per class.
        queries: query images per class.
        episodes: number of episodes.
        seed: seed of the episode draws; the same seed gives the same
            episodes. Defaults to 0.
        classes: labels to draw classes from; None uses every label.
            Defaults to None.
        class_names: names of the int labels, for the messages and
            ``skipped_classes``. Defaults to None (the labels themselves).

    Returns:
        ``{"accuracy", "std", "ci95", "ways", "shots", "queries", "episodes",
        "seed", "num_classes", "skipped_classes"}``: mean and standard
        deviation of the per-episode accuracies, the 95 % confidence interval
        half-width ``1.96 * std / sqrt(episodes)``, the settings, the number
        of classes episodes were drawn from, and the labels left out for
        having fewer than ``shots + queries`` images.

    Raises:
        ValueError: bad arguments, or fewer than ``ways`` classes with
            ``shots + queries`` images.

    >>> rng = np.random.default_rng(0)
    >>> centres = 10 * rng.normal(size=(6, 16))  # 6 well-separated classes
    >>> labels = np.repeat(np.arange(6), 10)
    >>> emb = centres[labels] + rng.normal(size=(60, 16))
    >>> r = few_shot_episodes(emb, labels, ways=5, shots=1, queries=5, episodes=50)
    >>> r["accuracy"], r["num_classes"]
    (1.0, 6)
    """
    x = np.asarray(embeddings, np.float64)
    labels = np.asarray(labels).reshape(-1)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError(
            "few_shot_episodes needs embeddings [N, D] and N labels. "
            f"Received: embeddings.shape={x.shape}, labels.shape={labels.shape}"
        )
    if not np.isfinite(x).all():
        raise ValueError("`embeddings` contain NaN or infinite values.")
    ways = _check_int("ways", ways, minimum=2)
    shots = _check_int("shots", shots)
    queries = _check_int("queries", queries)
    episodes = _check_int("episodes", episodes)
    per_class = shots + queries

    pool = np.unique(labels) if classes is None else np.unique(np.asarray(classes))
    missing = np.setdiff1d(pool, labels)
    if len(missing):
        missing = missing.tolist()
        if class_names is not None:
            missing = [str(class_names[int(label)]) for label in missing]
        raise ValueError(
            f"{len(missing)} of the chosen classes have no images: {missing[:10]}. "
            "Choose classes the split has images of."
        )
    members = {label: np.flatnonzero(labels == label) for label in pool.tolist()}
    eligible = [label for label, idx in members.items() if len(idx) >= per_class]
    skipped = [label for label, idx in members.items() if len(idx) < per_class]
    if class_names is not None:
        skipped = [str(class_names[int(label)]) for label in skipped]
    if skipped:
        warnings.warn(
            f"{len(skipped)} of {len(pool)} classes have fewer than shots + queries = "
            f"{per_class} images and are left out of the episodes: {skipped[:10]}"
            f"{' ...' if len(skipped) > 10 else ''}",
            stacklevel=2,
        )
    if len(eligible) < ways:
        raise ValueError(
            f"{ways}-way episodes need {ways} classes with at least shots + queries = "
            f"{per_class} images each, but only {len(eligible)} of {len(pool)} classes have "
            f"that many. Lower `ways`, `shots` or `queries`, or use a larger split."
        )

    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.maximum(norms, np.finfo(np.float64).tiny)
    rng = np.random.default_rng(seed)
    accuracies = np.empty(episodes)
    truth = np.repeat(np.arange(ways), queries)
    for episode in range(episodes):
        chosen = rng.choice(len(eligible), ways, replace=False)
        draws = np.stack(
            [rng.choice(members[eligible[c]], per_class, replace=False) for c in chosen]
        )  # [ways, shots + queries]
        prototypes = x[draws[:, :shots]].mean(axis=1)  # [ways, D]
        prototypes /= np.maximum(
            np.linalg.norm(prototypes, axis=1, keepdims=True), np.finfo(np.float64).tiny
        )
        scores = x[draws[:, shots:].reshape(-1)] @ prototypes.T  # [ways * queries, ways]
        accuracies[episode] = np.mean(scores.argmax(axis=1) == truth)
    std = float(accuracies.std())
    return {
        "accuracy": float(accuracies.mean()),
        "std": std,
        "ci95": float(1.96 * std / np.sqrt(episodes)),
        "ways": ways,
        "shots": shots,
        "queries": queries,
        "episodes": episodes,
        "seed": seed,
        "num_classes": len(eligible),
        "skipped_classes": [_plain(label) for label in skipped],
    }


def evaluate_few_shot(
    model,
    source,
    ways=5,
    shots=1,
    queries=15,
    episodes=600,
    classes=None,
    split="test",
    image_size=None,
    batch_size=64,
    seed=0,
    **load_options,
):
    """Few-shot accuracy of a model's embeddings on a split of a data source.

    Loads ``split`` with `fgkeras.data.load` (no shuffling, centre crops),
    keeps the images of ``classes``, embeds them once with
    `fgkeras.evaluation.retrieval.embed_dataset` (the model's "embedding", or
    else "pooler", layer) and runs `few_shot_episodes`. To measure transfer to
    *novel* classes, pass classes (or a source) the model was not trained on.

    Args:
        model: a zoo `keras.Model`, or the path of a run directory or ``.keras`` file.
        source: a data source name or path, as `fgkeras.data.load` takes.
        ways: classes per episode. Defaults to 5.
        shots: support images per class: an int, or a sequence of ints to
            evaluate each on the same embeddings. Defaults to 1.
        queries: query images per class. Defaults to 15.
        episodes: number of episodes. Defaults to 600.
        classes: class names (from the split's ``class_names``) or indices to
            draw episodes from; None uses every class. Defaults to None.
        split: the split to load. Defaults to "test".
        image_size: None uses the model's input size. Defaults to None.
        batch_size: batch size of the embedding pass. Defaults to 64.
        seed: seed of the episodes. Defaults to 0.
        **load_options: more arguments of `fgkeras.data.load` (``resize_size``,
            ``bbox_crop``, source options such as ``data_dir``).

    Returns:
        The dict of `few_shot_episodes` (``accuracy``, ``std``, ``ci95``,
        settings; ``skipped_classes`` as names) plus ``source``, ``split``,
        ``num_images`` (images embedded), ``embedding_layer`` and
        ``embedding_dim``; a list of such dicts when ``shots`` is a sequence.

    >>> import fgkeras
    >>> net = fgkeras.build("baseline", num_classes=3, backbone="tiny", weights=None,
    ...                     input_shape=(16, 16, 3))
    >>> r = evaluate_few_shot(net, "synthetic", ways=2, shots=1, queries=2, episodes=10,
    ...                       num_classes=3, num_examples=12)
    >>> r["ways"], r["num_classes"], r["num_images"], 0.0 <= r["accuracy"] <= 1.0
    (2, 3, 12, True)
    """
    import tensorflow as tf

    from fgkeras.data import load
    from fgkeras.evaluation.retrieval import embed_dataset
    from fgkeras.models.heads import embedding_layer

    many = not isinstance(shots, int | np.integer)
    shots_list = [_check_int("shots", s) for s in (shots if many else [shots])]
    if not shots_list:
        raise ValueError("`shots` must name at least one value. Received: shots=[]")
    for name, value in (("ways", ways), ("queries", queries), ("episodes", episodes)):
        _check_int(name, value, minimum=2 if name == "ways" else 1)
    if isinstance(model, str | os.PathLike):
        from fgkeras.training.run_dir import load_model_source

        model, _ = load_model_source(model)
    layer = embedding_layer(model)  # fail before loading any data
    if image_size is None:
        image_size = model_image_size(model)
        if image_size is None:
            raise ValueError(
                "Cannot read the image size from the model's input shape "
                f"{model.input_shape}; pass image_size."
            )
    dataset = load(
        source,
        split,
        image_size=image_size,
        batch_size=batch_size,
        shuffle=False,
        **load_options,
    )
    class_names = list(dataset.class_names)
    keep = resolve_classes(classes, class_names)
    if keep is not None:
        # Only the chosen classes go through the model (the expensive part).
        keep_tensor = tf.constant(keep, tf.int32)

        def chosen(inputs, label):
            index = label if label.shape.rank == 0 else tf.argmax(label, output_type=tf.int32)
            return tf.reduce_any(tf.equal(tf.cast(index, tf.int32), keep_tensor))

        dataset = dataset.unbatch().filter(chosen).batch(batch_size)
    embeddings, labels = embed_dataset(model, dataset)
    info = {
        "source": source if isinstance(source, str) else os.fspath(source),
        "split": split,
        "num_images": int(len(labels)),
        "embedding_layer": layer.name,
        "embedding_dim": int(embeddings.shape[1]),
    }
    results = []
    for k in shots_list:
        result = few_shot_episodes(
            embeddings, labels, ways, k, queries, episodes, seed, keep, class_names
        )
        results.append({**result, **info})
    return results if many else results[0]


def resolve_classes(classes, class_names):
    """Class indices of ``classes`` (names or indices), sorted; None stays None.

    Names are looked up first; ints, and strings of ints that are not class
    names, are indices.

    >>> resolve_classes(["b", 0, "2"], ["a", "b", "c"])
    [0, 1, 2]
    """
    if classes is None:
        return None
    if isinstance(classes, str | int | np.integer):
        classes = [classes]
    lookup = {str(name): i for i, name in enumerate(class_names)}
    indices = set()
    for entry in classes:
        if isinstance(entry, str) and entry in lookup:
            indices.add(lookup[entry])
            continue
        try:
            index = int(entry)
        except (TypeError, ValueError):
            index = None
        if index is None or isinstance(entry, bool) or not 0 <= index < len(class_names):
            import difflib

            close = difflib.get_close_matches(str(entry), list(lookup), n=3)
            hint = f" Close matches: {close}." if close else ""
            raise ValueError(
                f"Unknown class {entry!r}: not one of the split's {len(class_names)} class "
                f"names nor an index in [0, {len(class_names)}).{hint}"
            )
        indices.add(index)
    if not indices:
        raise ValueError("`classes` is empty: name at least `ways` classes, or pass None.")
    return sorted(indices)


def model_image_size(model):
    """The image side of a model's input (its "image" input for dict inputs), or None.

    >>> import keras
    >>> model_image_size(keras.Sequential([keras.Input((24, 24, 3)), keras.layers.Flatten()]))
    24
    """
    shape = model.input_shape
    if isinstance(shape, dict):
        shape = shape.get("image")
    elif isinstance(shape, list):
        shape = shape[0]
    size = shape[1] if shape is not None and len(shape) == 4 else None
    return None if size is None else int(size)


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _plain(label):
    return label.item() if hasattr(label, "item") else label
