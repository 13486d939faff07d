"""Inference speed: time per image against batch size, measured so that ratios hold.

Absolute times on a shared or throttled CPU move from run to run; ratios
between two things measured *in the same run*, in turns, move much less.
`interleaved_times` runs several tasks in turn (after a warm-up call of
each, which also traces graphs), reversing the order every other round, so
that a change of load on the machine hits all of them alike.
`measure_throughput` builds on it: each model (a `keras.Model`, a TFLite
runner wrapped in a function, any callable on an image batch) at each batch
size is one task, and every row reports its median time per image and its
speed relative to one baseline row of the same call. `latency_ms` times
one call (a batch of one, as a production line or a phone classifies):
median and 90th percentile, for any callable (a Keras model, a SavedModel
signature, a TFLite interpreter), so their numbers compare.

Wall time is what a caller waits; CPU time (this process, all threads) is
the work done, and on cores shared with other jobs it scatters less, as it
does not count the waits for a core. Both are reported.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable

import keras
import numpy as np

from fgkeras.checks import check_int
from fgkeras.evaluation.plots import save_figure


def interleaved_times(tasks: dict[object, Callable[[], object]], repeats: int, warmup=1) -> dict:
    """Wall and CPU seconds of each task over ``repeats`` rounds, taken in turns.

    Each task is first called ``warmup`` times (not timed); then each round
    calls every task once, in the given order in even rounds and reversed
    in odd ones (A B, B A, ...).

    Args:
        tasks: ``{name: function of no arguments}``.
        repeats: timed rounds, at least 1.
        warmup: untimed calls of each task first. Defaults to 1.

    Returns:
        ``{"wall": {name: [seconds, ...]}, "cpu": {name: [...]}}``, one
        value per round. CPU seconds are this process's (user + system,
        all threads).

    >>> calls = []
    >>> times = interleaved_times({"a": lambda: calls.append("a"),
    ...                            "b": lambda: calls.append("b")}, repeats=2)
    >>> "".join(calls), len(times["wall"]["a"]), sorted(times)
    ('ababba', 2, ['cpu', 'wall'])
    """
    if not isinstance(tasks, dict) or not tasks:
        raise ValueError(
            f"`tasks` must be a non-empty dict of name -> function. Received: tasks={tasks!r}"
        )
    for name, task in tasks.items():
        if not callable(task):
            raise ValueError(f"Task {name!r} is not callable. Received: {task!r}")
    check_int("repeats", repeats)
    check_int("warmup", warmup, minimum=0)
    for task in tasks.values():
        for _ in range(warmup):
            task()  # trace graphs, fill caches
    times = {clock: {name: [] for name in tasks} for clock in ("wall", "cpu")}
    names = list(tasks)
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else names[::-1]:
            wall, cpu = time.perf_counter(), time.process_time()
            tasks[name]()
            times["cpu"][name].append(time.process_time() - cpu)
            times["wall"][name].append(time.perf_counter() - wall)
    return times


def latency_ms(fn, *args, repeats=50, warmup=3, **kwargs) -> dict:
    """Time ``fn(*args, **kwargs)``: median and 90th percentile in milliseconds.

    The first ``warmup`` calls (graph tracing, allocation) are not counted.

    Args:
        fn: the callable to time.
        *args: its positional arguments.
        repeats: timed calls. Defaults to 50.
        warmup: calls before timing. Defaults to 3.
        **kwargs: its keyword arguments.

    Returns:
        ``{"median_ms", "p90_ms", "repeats"}``.

    >>> timing = latency_ms(sum, [1, 2, 3], repeats=5)
    >>> sorted(timing), timing["repeats"], 0 <= timing["median_ms"] <= timing["p90_ms"]
    (['median_ms', 'p90_ms', 'repeats'], 5, True)
    """
    if not callable(fn):
        raise ValueError(f"`fn` must be callable. Received: fn={fn!r}")
    times = np.asarray(
        interleaved_times({"call": lambda: fn(*args, **kwargs)}, repeats, warmup)["wall"]["call"]
    )
    return {
        "median_ms": float(np.median(times) * 1000.0),
        "p90_ms": float(np.percentile(times, 90) * 1000.0),
        "repeats": repeats,
    }


def measure_throughput(
    models,
    batch_sizes=(1, 8, 32),
    repeats: int = 5,
    *,
    input_shape=None,
    baseline=None,
    warmup: int = 1,
    seed: int = 0,
) -> list[dict]:
    """Median time per image and images per second of models at several batch sizes.

    Every (model, batch size) pair is one task of `interleaved_times`: one
    warm-up call, then ``repeats`` timed calls taken in turns with all the
    others. Inputs are random pixels (0-255, ``float32``), the same for
    every model at a batch size. A `keras.Model` is called through
    ``predict_on_batch`` (a compiled graph, no per-call data adapter); pass
    a function to time another path, e.g. ``tf.function(lambda x: model(x,
    training=False))`` or a TFLite interpreter.

    Args:
        models: a `keras.Model` or a function of an image batch, or a dict
            ``{name: model or function}`` to compare several in one run.
        batch_sizes: batch sizes to time, distinct positive ints.
            Defaults to (1, 8, 32).
        repeats: timed calls of each task. Defaults to 5.
        input_shape: one image's shape, e.g. ``(224, 224, 3)``; None takes
            the first Keras model's input shape (needed when every model is
            a plain function). Defaults to None.
        baseline: the ``(name, batch_size)`` row every ratio is taken
            against; None takes the first model at the first batch size.
            Defaults to None.
        warmup: untimed calls of each task first. Defaults to 1.
        seed: seed of the random pixels. Defaults to 0.

    Returns:
        One dict per (model, batch size), models in the given order: ``name``,
        ``batch_size``, ``repeats``, ``seconds_per_image`` and
        ``cpu_seconds_per_image`` (medians over the repeats),
        ``images_per_second`` (from the wall time), and ``speedup`` and
        ``cpu_speedup``: the baseline's seconds per image over this row's
        (above 1: faster than the baseline; NaN where a time read 0, i.e. a
        call shorter than the clock's resolution).

    >>> rows = measure_throughput(lambda x: x.sum(), batch_sizes=(1, 4), repeats=3,
    ...                           input_shape=(2, 2, 3))
    >>> [(row["name"], row["batch_size"], row["speedup"] > 0) for row in rows]
    [('model', 1, True), ('model', 4, True)]
    >>> rows[0]["speedup"]
    1.0
    """
    models = _named_models(models)
    batch_sizes = _check_batch_sizes(batch_sizes)
    check_int("repeats", repeats)
    check_int("warmup", warmup, minimum=0)
    shape = _input_shape(models, input_shape)
    if baseline is None:
        baseline = (next(iter(models)), batch_sizes[0])
    given, baseline = baseline, tuple(baseline) if isinstance(baseline, tuple | list) else ()
    if baseline not in {(name, size) for name in models for size in batch_sizes}:
        raise ValueError(
            f"`baseline` must be one (name, batch_size) pair of the models {list(models)} and "
            f"batch sizes {batch_sizes}. Received: baseline={given!r}"
        )
    rng = np.random.default_rng(seed)
    inputs = {
        size: rng.uniform(0.0, 255.0, (size, *shape)).astype("float32") for size in batch_sizes
    }
    tasks = {
        (name, size): _task(function, inputs[size])
        for name, function in models.items()
        for size in batch_sizes
    }
    times = interleaved_times(tasks, repeats, warmup)
    rows = []
    for name, size in tasks:
        wall = float(np.median(times["wall"][name, size])) / size
        cpu = float(np.median(times["cpu"][name, size])) / size
        rows.append({
            "name": name, "batch_size": size, "repeats": repeats, "seconds_per_image": wall,
            "cpu_seconds_per_image": cpu, "images_per_second": 1.0 / max(wall, 1e-12),
        })  # fmt: skip
    reference = next(row for row in rows if (row["name"], row["batch_size"]) == baseline)
    for row in rows:
        for clock, key in (("", "seconds_per_image"), ("cpu_", "cpu_seconds_per_image")):
            row[f"{clock}speedup"] = _ratio(reference[key], row[key])
    return rows


def _named_models(models) -> dict:
    if not isinstance(models, dict):
        models = {getattr(models, "name", None) or "model": models}
    if not models:
        raise ValueError("`models` is an empty dict: give at least one model or function.")
    named = {}
    for name, model in models.items():
        call = getattr(model, "predict_on_batch", None) if _is_keras_model(model) else model
        if not callable(call):
            raise ValueError(
                f"Model {name!r} must be a keras.Model or a function of an image batch. "
                f"Received: {model!r}"
            )
        named[name] = model
    return named


def _is_keras_model(model) -> bool:
    return isinstance(model, keras.Model)


def _check_batch_sizes(batch_sizes) -> list[int]:
    sizes = [batch_sizes] if isinstance(batch_sizes, int) else list(batch_sizes or [])
    if not sizes:
        raise ValueError(f"`batch_sizes` must not be empty. Received: batch_sizes={batch_sizes!r}")
    for size in sizes:
        check_int("batch_sizes", size)
    sizes = [int(size) for size in sizes]
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"`batch_sizes` must be distinct. Received: batch_sizes={batch_sizes!r}")
    return sizes


def _input_shape(models, input_shape) -> tuple:
    if input_shape is None:
        for model in models.values():
            if _is_keras_model(model):
                input_shape = model.input_shape[1:]
                break
    if input_shape is None or any(
        isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in input_shape
    ):
        raise ValueError(
            "`input_shape` must give one image's shape, e.g. (224, 224, 3): it is needed when "
            "no model is a keras.Model with a fixed input shape. "
            f"Received: input_shape={input_shape!r}"
        )
    return tuple(int(d) for d in input_shape)


def _task(model, batch):
    call = model.predict_on_batch if _is_keras_model(model) else model
    return lambda: call(batch)


def _ratio(reference, value) -> float:
    # A call shorter than the clock's resolution reads 0 s (CPU time, on trivial work).
    return float(reference / value) if reference > 0 and value > 0 else float("nan")


def plot_throughput(rows, path=".", clock="wall", title=None) -> str:
    """Save a PNG of `measure_throughput` rows: speed-up over the baseline against batch size.

    One line per model; the x axis is the batch size (log scale), the y axis
    the row's ``speedup`` (``clock="wall"``) or ``cpu_speedup``
    (``clock="cpu"``), log scale, with the baseline's 1.0 drawn dashed.

    Args:
        rows: what `measure_throughput` returned.
        path: a ``.png`` file, or a folder to write ``throughput.png`` into.
            Defaults to ".".
        clock: "wall" or "cpu". Defaults to "wall".
        title: figure title. Defaults to None.

    Returns:
        The path written.

    >>> import os, tempfile
    >>> rows = measure_throughput(lambda x: x.sum(), batch_sizes=(1, 4), repeats=2,
    ...                           input_shape=(2, 2, 3))
    >>> os.path.basename(plot_throughput(rows, tempfile.mkdtemp()))
    'throughput.png'
    """
    from matplotlib.figure import Figure

    if clock not in ("wall", "cpu"):
        raise ValueError(f'`clock` must be "wall" or "cpu". Received: clock={clock!r}')
    key = "speedup" if clock == "wall" else "cpu_speedup"
    rows = list(rows or [])
    if not rows or any(not isinstance(row, dict) or key not in row for row in rows):
        raise ValueError(
            f"`rows` must be the non-empty list of dicts that measure_throughput returns "
            f"(each with {key!r}). Received: {rows!r}"
        )
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for name in dict.fromkeys(row["name"] for row in rows):
        mine = sorted((row["batch_size"], row[key]) for row in rows if row["name"] == name)
        ax.plot(*zip(*mine), marker="o", label=str(name))
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    sizes = sorted({row["batch_size"] for row in rows})
    ax.set_xticks(sizes, [str(size) for size in sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel(f"× baseline ({'CPU' if clock == 'cpu' else 'wall'} time per image)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return save_figure(fig, path, "throughput.png")
