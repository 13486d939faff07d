"""Zero-shot recognition: classes never seen in training, recognised from attributes or text.

A `zero_shot_attributes` model trained on the *seen* classes scores the test
images of *unseen* classes against the unseen classes' attribute vectors
(`fgkeras.models.zero_shot.with_class_attributes`); an `image_text` model
against their descriptions (`fgkeras.models.image_text.with_descriptions`). Reported as zero-shot
papers report it (Xian et al., "Zero-Shot Learning — A Comprehensive
Evaluation of the Good, the Bad and the Ugly", TPAMI 2018,
https://arxiv.org/abs/1707.00600):

- **zero-shot** (ZSL): top-1 among the unseen classes only, averaged per
  class (each class counts the same whatever its number of images);
- **generalized zero-shot** (GZSL): every test image is scored against the
  seen *and* unseen classes together; ``s`` = per-class top-1 on the seen
  classes' images, ``u`` = on the unseen classes' images, and their harmonic
  mean ``H = 2su / (s + u)``, which is high only when both are (a model that
  always answers a seen class has u = 0 and H = 0).

>>> per_class_accuracy([0, 0, 0, 1], [0, 0, 1, 1])
0.8333333333333333
>>> harmonic_mean(0.8, 0.2), harmonic_mean(0.9, 0.0)
(0.32000000000000006, 0.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["evaluate_zero_shot", "harmonic_mean", "per_class_accuracy"]


def per_class_accuracy(labels, predictions, classes=None) -> float:
    """Top-1 accuracy averaged over classes (over ``classes``, else the labels present)."""
    labels, predictions = np.asarray(labels).reshape(-1), np.asarray(predictions).reshape(-1)
    classes = np.unique(labels) if classes is None else np.asarray(classes)
    accuracies = [np.mean(predictions[labels == c] == c) for c in classes if np.any(labels == c)]
    return float(np.mean(accuracies)) if accuracies else 0.0


def harmonic_mean(seen: float, unseen: float) -> float:
    """``2su / (s + u)``, 0 when both are 0."""
    return 0.0 if seen + unseen == 0 else 2 * seen * unseen / (seen + unseen)


def evaluate_zero_shot(
    model,
    source,
    unseen,
    seen=None,
    split="test",
    image_size=None,
    batch_size=64,
    **load_options,
) -> dict:
    """Zero-shot (and with ``seen``, generalized zero-shot) accuracy of a model.

    Args:
        model: a trained `zero_shot_attributes` model (classes described by
            attribute vectors) or `image_text` model (classes described by
            text).
        source: the data source (name or path) holding the classes and their
            ``class_attributes`` or ``class_descriptions`` (e.g.
            ``"synthetic"``, a CUB folder).
        unseen: names or indices of the classes left out of training.
        seen: names or indices of the training classes, for the generalized
            setting; None reports the zero-shot setting only. Defaults to None.
        split: the split whose images are scored. Defaults to "test".
        image_size: None uses the model's input size. Defaults to None.
        batch_size: images per batch. Defaults to 64.
        **load_options: more arguments of `fgkeras.data.load` (``resize_size``,
            source options such as ``num_classes``).

    Returns:
        ``{"unseen_top1", "unseen_top1_images", "chance", "unseen_classes",
        "num_images", "source", "split"}`` and, with ``seen``,
        ``"generalized": {"seen_top1", "unseen_top1", "harmonic_mean",
        "seen_classes", "num_images"}``; accuracies are per-class means
        except ``unseen_top1_images`` (over images).

    >>> import fgkeras
    >>> model = fgkeras.build("zero_shot_attributes", num_classes=6, backbone="tiny",
    ...                       weights=None, input_shape=(32, 32, 3),
    ...                       class_attributes=fgkeras.data.synthetic.class_info(8).attributes[:6])
    >>> r = evaluate_zero_shot(model, "synthetic", unseen=[6, 7], seen=range(6), num_examples=32)
    >>> r["chance"], r["unseen_classes"], sorted(r["generalized"])[:2]
    (0.5, 2, ['harmonic_mean', 'num_images'])
    """
    from fgkeras.data import load
    from fgkeras.evaluation.evaluator import predict_dataset
    from fgkeras.evaluation.few_shot import model_image_size

    unseen = _class_list(unseen, "unseen")
    size = image_size or model_image_size(model)
    options = dict(image_size=size, batch_size=batch_size, shuffle=False, **load_options)
    data = load(source, split, classes=unseen, **options)
    labels, scores = predict_dataset(recognizer(model, data, source), data)
    predictions = scores.argmax(axis=1)
    result = {
        "unseen_top1": per_class_accuracy(labels, predictions, range(len(unseen))),
        "unseen_top1_images": float(np.mean(predictions == labels)),
        "chance": 1.0 / len(unseen),
        "unseen_classes": len(unseen),
        "unseen_class_names": list(data.class_names),
        "num_images": int(len(labels)),
        "source": source if isinstance(source, str) else str(source),
        "split": split,
    }
    if seen is not None:
        seen = _class_list(seen, "seen")
        overlap = {str(c) for c in seen} & {str(c) for c in unseen}
        if overlap:
            raise ValueError(f"Classes both seen and unseen: {sorted(overlap)}")
        everything = load(source, split, classes=seen + unseen, **options)
        labels, scores = predict_dataset(recognizer(model, everything, source), everything)
        predictions = scores.argmax(axis=1)
        s = per_class_accuracy(labels, predictions, range(len(seen)))
        u = per_class_accuracy(labels, predictions, range(len(seen), len(seen) + len(unseen)))
        result["generalized"] = {
            "seen_top1": s,
            "unseen_top1": u,
            "harmonic_mean": harmonic_mean(s, u),
            "seen_classes": len(seen),
            "num_images": int(len(labels)),
        }
    return result


def _class_list(classes, what) -> list:
    if isinstance(classes, str | int | np.integer):
        classes = [classes]
    classes = list(classes)
    if not classes:
        raise ValueError(f"`{what}` must name at least one class. Received: {classes!r}")
    return [int(c) if isinstance(c, np.integer) else c for c in classes]


def recognizer(model, data, source="the source"):
    """``model`` re-aimed at the classes of ``data``: from their attribute vectors
    (``zero_shot_attributes``) or their descriptions (``image_text``)."""
    from fgkeras.layers.label_embedding import AttributeCompatibility
    from fgkeras.layers.text_encoder import DescriptionScores

    head = model.get_layer("predictions")
    if isinstance(head, DescriptionScores):
        from fgkeras.models.image_text import with_descriptions

        key, describe = "class_descriptions", with_descriptions
    elif isinstance(head, AttributeCompatibility):
        from fgkeras.models.zero_shot import with_class_attributes

        key, describe = "class_attributes", with_class_attributes
    else:
        raise ValueError(
            f"Model {model.name!r} cannot recognise classes it never saw: zero-shot needs a "
            "model that scores classes by attributes (zero_shot_attributes) or by text "
            "(image_text)."
        )
    table = data.source_info.get(key)
    if table is None:
        raise ValueError(
            f"Source {source!r} has no {key} (source_info[{key!r}]): zero-shot recognition "
            f"with {model.name!r} needs each class's {key.split('_')[1][:-1]}s."
        )
    return describe(model, table)
