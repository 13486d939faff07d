"""Selective prediction: act on confident answers, route the rest to a person.

A deployed classifier need not answer every input. With a confidence
threshold ``t``, an input whose top probability ``max_c p_c`` is at least
``t`` is *accepted* (the model's answer is used); the others are *routed*
(to a person, a second camera, a slower model). Raising ``t`` lowers the
**coverage** (the share accepted) and, for a model whose confidence means
something, raises the accuracy on what it accepts.

- `coverage_at_threshold`: one threshold: share accepted and routed,
  accuracy of the accepted, of the routed and of all;
- `selective_curve`: every threshold at once (the accuracy-coverage curve);
- `threshold_for_accuracy`: the lowest threshold (largest coverage) whose
  accepted inputs reach a target accuracy; pick it on held-out data, then
  measure it on other data with `coverage_at_threshold`;
- `plot_selective_curve`: accuracy of the accepted against the share routed.

Pure NumPy (the plot draws with matplotlib), so every number is exact.
"""

from __future__ import annotations

import numpy as np

from fgkeras.evaluation.plots import save_figure

# Rows of probabilities must sum to 1 within this: int8 TFLite outputs are
# quantized in steps of 1/256, so their rows sum to 1 only within a few hundredths.
SUM_TOLERANCE = 0.05


def confidences(probabilities) -> np.ndarray:
    """The top probability of each row, after checking the rows are probabilities.

    >>> confidences([[0.7, 0.3], [0.2, 0.8]]).tolist()
    [0.7, 0.8]
    >>> confidences([[2.0, -1.0]])  # logits, not probabilities
    Traceback (most recent call last):
    ...
    ValueError: probabilities must be in [0, 1] with rows summing to 1 (softmax outputs, ...
    """
    return _check_probabilities(probabilities).max(axis=1)


def coverage_at_threshold(labels, probabilities, threshold) -> dict:
    """What a confidence threshold does on labelled examples.

    An example is accepted when its top probability is ``>= threshold``.

    Args:
        labels: int array ``[N]`` of true classes in ``[0, C)``.
        probabilities: float array ``[N, C]`` of class probabilities
            (softmax outputs; rows sum to 1).
        threshold: confidence threshold in ``[0, 1]``; 0 accepts everything.

    Returns:
        A JSON-ready dict: ``threshold``, ``num_examples``, ``accepted`` and
        ``routed`` (counts), ``coverage`` (share accepted), ``routed_share``,
        ``accuracy_accepted`` (None when nothing is accepted),
        ``accuracy_routed`` (what the model would have scored on the routed
        examples; None when none is routed) and ``accuracy_all``.

    >>> p = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.55, 0.45]]
    >>> r = coverage_at_threshold([0, 1, 1, 0], p, threshold=0.7)
    >>> r["coverage"], r["accuracy_accepted"], r["accuracy_routed"], r["accuracy_all"]
    (0.5, 1.0, 0.5, 0.75)
    """
    labels, probabilities = _check_inputs(labels, probabilities)
    threshold = _check_fraction("threshold", threshold, low_open=False)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    accepted = confidence >= threshold
    count = len(labels)
    return {
        "threshold": threshold,
        "num_examples": int(count),
        "accepted": int(accepted.sum()),
        "routed": int(count - accepted.sum()),
        "coverage": float(accepted.mean()) if count else 0.0,
        "routed_share": float(1.0 - accepted.mean()) if count else 0.0,
        "accuracy_accepted": float(correct[accepted].mean()) if accepted.any() else None,
        "accuracy_routed": float(correct[~accepted].mean()) if (~accepted).any() else None,
        "accuracy_all": float(correct.mean()) if count else 0.0,
    }


def selective_curve(labels, probabilities) -> dict:
    """Coverage and accuracy of the accepted examples at every useful threshold.

    The thresholds are the distinct top probabilities, highest first, so
    point ``i`` accepts every example at least as confident as the
    ``i``-th threshold (ties are accepted together); the last point accepts
    everything (coverage 1, the plain accuracy).

    Args:
        labels: int array ``[N]`` of true classes, N >= 1.
        probabilities: float array ``[N, C]`` of class probabilities.

    Returns:
        ``{"threshold", "coverage", "accuracy", "routed_share"}``, NumPy
        arrays of one length; coverage rises and thresholds fall along them.

    >>> curve = selective_curve([0, 1, 1, 0], [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.55, 0.45]])
    >>> curve["threshold"].tolist(), curve["coverage"].tolist()
    ([0.9, 0.8, 0.6, 0.55], [0.25, 0.5, 0.75, 1.0])
    >>> curve["accuracy"].round(3).tolist()
    [1.0, 1.0, 0.667, 0.75]
    """
    labels, probabilities = _check_inputs(labels, probabilities)
    if not len(labels):
        raise ValueError("selective_curve needs at least one example. Received: 0 examples.")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    order = np.argsort(-confidence, kind="stable")
    confidence, correct = confidence[order], correct[order]
    # The last position of each run of equal confidences: accept ties together.
    last = np.flatnonzero(np.append(confidence[1:] != confidence[:-1], True))
    accepted = last + 1
    coverage = accepted / len(labels)
    return {
        "threshold": confidence[last],
        "coverage": coverage,
        "accuracy": np.cumsum(correct)[last] / accepted,
        "routed_share": 1.0 - coverage,
    }


def threshold_for_accuracy(labels, probabilities, target_accuracy) -> dict:
    """The lowest threshold whose accepted examples reach ``target_accuracy``.

    The lowest such threshold accepts the most examples. Choose it on
    held-out (validation) data and measure it on other data: measured on the
    data it was chosen on, the accuracy is optimistic.

    Args:
        labels: int array ``[N]`` of true classes, N >= 1.
        probabilities: float array ``[N, C]`` of class probabilities.
        target_accuracy: the accuracy wanted on the accepted examples, in (0, 1].

    Returns:
        `coverage_at_threshold` at that threshold (its ``threshold`` key).

    Raises:
        ValueError: when no threshold reaches the target (not even the most
            confident examples alone), naming the best accuracy there is.

    >>> p = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.55, 0.45]]
    >>> r = threshold_for_accuracy([0, 1, 1, 0], p, 0.75)
    >>> r["threshold"], r["coverage"], r["accuracy_accepted"]
    (0.55, 1.0, 0.75)
    >>> threshold_for_accuracy([0, 1, 1, 0], p, 0.9)["threshold"]
    0.8
    """
    target = _check_fraction("target_accuracy", target_accuracy, low_open=True)
    curve = selective_curve(labels, probabilities)
    reached = np.flatnonzero(curve["accuracy"] >= target - 1e-12)
    if not reached.size:
        best = int(np.argmax(curve["accuracy"]))
        raise ValueError(
            f"No confidence threshold reaches an accuracy of {target} on these "
            f"{len(np.asarray(labels).reshape(-1))} examples: the best is "
            f"{curve['accuracy'][best]:.3f} at threshold {curve['threshold'][best]:.3f} "
            f"(coverage {curve['coverage'][best]:.3f}). Lower target_accuracy."
        )
    threshold = float(curve["threshold"][reached[-1]])
    return coverage_at_threshold(labels, probabilities, threshold)


def plot_selective_curve(curves, path=".", thresholds=(), title=None) -> str:
    """Save the accuracy of the accepted examples against the share routed, as a PNG.

    Args:
        curves: ``{name: (labels, probabilities)}``, one line per entry
            (e.g. the Keras model and its int8 TFLite file on the same images).
        path: a ``.png`` file, or a folder to write ``selective_curve.png``
            into. Defaults to ".".
        thresholds: confidence thresholds to mark on every line, labelled
            ``t=...``. Defaults to ().
        title: figure title. Defaults to None.

    Returns:
        The path written.

    >>> import tempfile
    >>> p = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.55, 0.45]]
    >>> out = plot_selective_curve({"model": ([0, 1, 1, 0], p)}, tempfile.mkdtemp(),
    ...                            thresholds=[0.7])  # doctest: +SKIP
    """
    from matplotlib.figure import Figure

    if not isinstance(curves, dict) or not curves:
        raise ValueError(
            "curves must be a non-empty dict {name: (labels, probabilities)}. "
            f"Received: {type(curves).__name__}"
        )
    fig = Figure(figsize=(5.6, 3.8))
    ax = fig.add_subplot()
    for index, (name, (labels, probabilities)) in enumerate(curves.items()):
        curve = selective_curve(labels, probabilities)
        shares = np.concatenate([curve["routed_share"][::-1], [1.0]])
        accuracy = np.concatenate([curve["accuracy"][::-1], [curve["accuracy"][0]]])
        colour = f"C{index}"
        ax.step(shares, accuracy, where="post", color=colour, label=name)
        for threshold in thresholds:
            point = coverage_at_threshold(labels, probabilities, threshold)
            if point["accuracy_accepted"] is None:
                continue
            ax.plot(point["routed_share"], point["accuracy_accepted"], "o", color=colour)
            if index == 0:
                ax.annotate(
                    f"t={threshold:g}",
                    (point["routed_share"], point["accuracy_accepted"]),
                    textcoords="offset points",
                    xytext=(6, -12),
                    fontsize=8,
                )
    ax.set_xlabel("share routed to a person")
    ax.set_ylabel("accuracy of the accepted")
    ax.set_xlim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, "selective_curve.png")


def _check_probabilities(probabilities):
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] < 1:
        raise ValueError(
            f"probabilities must have shape [N, C]. Received: shape {probabilities.shape}"
        )
    if not np.all(np.isfinite(probabilities)):
        raise ValueError("probabilities contain NaN or infinity; the model output is not usable.")
    if probabilities.size:
        sums = probabilities.sum(axis=1)
        low, high = probabilities.min(), probabilities.max()
        if low < -1e-6 or high > 1 + 1e-6 or np.any(np.abs(sums - 1.0) > SUM_TOLERANCE):
            raise ValueError(
                "probabilities must be in [0, 1] with rows summing to 1 (softmax outputs, "
                f"not logits). Received values from {low:.3g} to {high:.3g}, row sums from "
                f"{sums.min():.3g} to {sums.max():.3g}."
            )
    return probabilities


def _check_inputs(labels, probabilities):
    probabilities = _check_probabilities(probabilities)
    labels = np.asarray(labels).reshape(-1)
    if labels.shape[0] != probabilities.shape[0]:
        raise ValueError(
            f"labels and probabilities differ in length: {labels.shape[0]} vs "
            f"{probabilities.shape[0]}."
        )
    if labels.size and (
        not np.issubdtype(labels.dtype, np.integer)
        or labels.min() < 0
        or labels.max() >= probabilities.shape[1]
    ):
        raise ValueError(
            f"labels must be integers in [0, {probabilities.shape[1]}). Received: dtype "
            f"{labels.dtype}, values from {labels.min()} to {labels.max()}."
        )
    return labels.astype(np.int64), probabilities


def _check_fraction(name, value, low_open):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    ok = (0.0 < number if low_open else 0.0 <= number) and number <= 1.0
    if isinstance(value, bool) or not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"`{name}` must be a number in {interval}. Received: {name}={value!r}")
    return number
