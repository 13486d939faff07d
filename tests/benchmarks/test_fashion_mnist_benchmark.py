"""benchmarks/fashion_mnist.py: one line per model, seeds averaged, TTA in its own column."""


def test_results_table_averages_seeds_and_keeps_tta_apart(import_benchmark):
    bench = import_benchmark("fashion_mnist")
    rows = [
        {"source": "fashion_mnist", "model": "baseline", "epochs": 16, "seed": s,
         "test_accuracy": a, "tta_accuracy": t, "wall_minutes": 18.0}
        for s, a, t in ((0, 0.948, 0.951), (1, 0.952, 0.955), (2, 0.950, 0.953))
    ] + [
        {"source": "fashion_mnist_tops", "model": "cbp", "epochs": 8, "seed": 0,
         "test_accuracy": 0.88, "wall_minutes": 11.0}
    ]  # fmt: skip
    lines = bench.results_table(rows).splitlines()
    assert lines[0].split(" | ")[4:6] == ["test accuracy", "with flip TTA"]
    assert lines[2] == (
        "| Fashion-MNIST (10 classes) | baseline | 16 | 3 | 0.9500 ± 0.0020 "
        "| 0.9530 ± 0.0020 | 18.0 ± 0.0 |"
    )
    assert "| cbp (2048-d) | 8 | 1 | 0.8800 | – | 11.0 |" in lines[3]
    assert "WRN-28-10 0.959" in lines[-1]
