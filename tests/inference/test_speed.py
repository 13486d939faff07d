"""`fgkeras.inference.speed`: interleaved timing and throughput rows, checked on structure.

Speed targets are never asserted here (timed unit tests on shared machines
flake): the tests count calls, check the order of the turns, the batch
bookkeeping and that every time is positive and every ratio consistent.
"""

import time

import keras
import numpy as np
import pytest

from fgkeras.inference.speed import interleaved_times, latency_ms, measure_throughput


def test_interleaved_times_alternates_the_order_and_warms_up():
    calls = []
    tasks = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = interleaved_times(tasks, repeats=3, warmup=2)
    assert "".join(calls) == "aabbcc" + "abc" + "cba" + "abc"
    for clock in ("wall", "cpu"):
        assert list(times[clock]) == ["a", "b", "c"]
        assert all(len(values) == 3 for values in times[clock].values())
        assert all(value >= 0 for values in times[clock].values() for value in values)
    assert all(value > 0 for values in times["wall"].values() for value in values)


class Recorder:
    """A callable that records the batches it is given."""

    def __init__(self, scale=1.0):
        self.batches = []
        self.scale = scale

    def __call__(self, batch):
        self.batches.append(np.array(batch, copy=True))
        return batch * self.scale


def test_measure_throughput_rows_calls_and_ratios():
    fast, slow = Recorder(), Recorder(2.0)
    rows = measure_throughput(
        {"fast": fast, "slow": slow}, batch_sizes=(1, 4, 16), repeats=3, input_shape=(5, 5, 3)
    )
    assert [(row["name"], row["batch_size"]) for row in rows] == [
        (name, size) for name in ("fast", "slow") for size in (1, 4, 16)
    ]
    for recorder in (fast, slow):  # 1 warm-up + 3 timed calls at each batch size
        sizes = [len(batch) for batch in recorder.batches]
        assert sorted(sizes) == [1] * 4 + [4] * 4 + [16] * 4
        assert all(batch.shape[1:] == (5, 5, 3) and batch.dtype == np.float32
                   for batch in recorder.batches)  # fmt: skip
        assert all(0.0 <= batch.min() and batch.max() <= 255.0 for batch in recorder.batches)
    # The same pixels for every model at a batch size.
    first = {len(batch): batch for batch in fast.batches}
    assert all(np.array_equal(batch, first[len(batch)]) for batch in slow.batches)
    baseline = rows[0]
    assert baseline["speedup"] == 1.0
    for row in rows:
        assert row["repeats"] == 3
        assert row["seconds_per_image"] > 0
        assert row["images_per_second"] == pytest.approx(1.0 / row["seconds_per_image"])
        assert row["speedup"] == pytest.approx(
            baseline["seconds_per_image"] / row["seconds_per_image"]
        )
        assert row["cpu_seconds_per_image"] >= 0


def test_measure_throughput_takes_the_baseline_and_the_input_shape_of_a_keras_model():
    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.GlobalAveragePooling2D()])
    recorder = Recorder()
    rows = measure_throughput(
        {"keras": model, "function": recorder}, batch_sizes=[2, 8], repeats=2,
        baseline=("function", 8),
    )  # fmt: skip
    assert {len(batch) for batch in recorder.batches} == {2, 8}
    assert recorder.batches[0].shape[1:] == (6, 6, 3)
    by_key = {(row["name"], row["batch_size"]): row for row in rows}
    assert by_key["function", 8]["speedup"] == 1.0
    assert by_key["keras", 2]["speedup"] == pytest.approx(
        by_key["function", 8]["seconds_per_image"] / by_key["keras", 2]["seconds_per_image"]
    )
    single = measure_throughput(model, batch_sizes=1, repeats=1)
    assert [(row["name"], row["batch_size"]) for row in single] == [(model.name, 1)]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(models={}), "empty dict"),
        (dict(models={"x": 3}), "Model 'x' must be a keras.Model or a function"),
        (dict(batch_sizes=()), "`batch_sizes` must not be empty"),
        (dict(batch_sizes=(4, 4)), "must be distinct"),
        (dict(batch_sizes=(0,)), "`batch_sizes` must be a positive integer"),
        (dict(repeats=0), "`repeats` must be a positive integer"),
        (dict(input_shape=None), "`input_shape` must give one image's shape"),
        (dict(baseline=("model", 2)), "`baseline` must be one"),
        (dict(baseline="model"), "`baseline` must be one"),
    ],
)
def test_measure_throughput_names_bad_arguments(arguments, message):
    given = dict(models=Recorder(), batch_sizes=(1,), repeats=1, input_shape=(2, 2, 3))
    with pytest.raises(ValueError, match=message):
        measure_throughput(**{**given, **arguments})


def test_interleaved_times_names_bad_tasks():
    with pytest.raises(ValueError, match="non-empty dict"):
        interleaved_times({}, repeats=1)
    with pytest.raises(ValueError, match="Task 'a' is not callable"):
        interleaved_times({"a": 1}, repeats=1)


def test_plot_throughput_draws_the_rows(tmp_path):
    import matplotlib.image

    from fgkeras.inference.speed import plot_throughput

    rows = measure_throughput(
        {"a": Recorder(), "b": Recorder(3.0)}, batch_sizes=(1, 2, 4), repeats=1,
        input_shape=(2, 2, 3),
    )  # fmt: skip
    for clock in ("wall", "cpu"):
        rows = [{**row, "cpu_speedup": 1.0 + row["batch_size"]} for row in rows]  # no zeros
        path = plot_throughput(rows, tmp_path / clock / "speed.png", clock=clock, title="t")
        assert matplotlib.image.imread(path)[..., :3].std() > 0.05
    with pytest.raises(ValueError, match="`clock`"):
        plot_throughput(rows, tmp_path, clock="gpu")
    with pytest.raises(ValueError, match="non-empty list"):
        plot_throughput([], tmp_path)


def test_latency_counts_calls_and_measures_the_sleep():
    calls = []

    def slow(x, pause=0.0):
        calls.append(x)
        time.sleep(pause)

    timing = latency_ms(slow, "image", pause=0.004, repeats=5, warmup=2)
    assert len(calls) == 7 and set(calls) == {"image"}  # warmup calls are not timed
    assert timing["repeats"] == 5
    assert 4.0 <= timing["median_ms"] <= timing["p90_ms"] < 200.0


@pytest.mark.parametrize(
    "fn, options, match",
    [(None, {}, "must be callable"), (len, {"repeats": 0}, "repeats=0"),
     (len, {"warmup": -1}, "warmup=-1")],
)  # fmt: skip
def test_latency_bad_arguments_are_named(fn, options, match):
    with pytest.raises(ValueError, match=match):
        latency_ms(fn, [1], **options)
