"""Smoke run of benchmarks/pk_sampler.py at a tiny size: it runs and writes its results."""

import json


def test_pk_sampler_benchmark_writes_results(tmp_path, import_benchmark):
    bench = import_benchmark("pk_sampler")
    bench.main(
        ["--passes", "1", "--synthetic-examples", "64", "--many-classes", "16", "--jpegs", "0",
         "--fashion-limit", "0", "--size", "16", "--results-dir", str(tmp_path)]
    )  # fmt: skip
    record = json.loads((tmp_path / "pk_sampler.json").read_text())
    assert record["command"].startswith("python")
    rates = [r["images_per_second"] for r in record["data"]["results"]]
    assert len(rates) == 2 and all(set(r) == {"shuffled", "balanced", "P×K (8×4)"} for r in rates)
    assert "| P×K (8×4) |" in (tmp_path / "pk_sampler.md").read_text()
