"""Timing runs (deselected by default; run with: python3 -m pytest -m benchmark tests/engine/catalog).
The full figures, and the catalog build cost, come from benchmarks/bench_catalog.py."""

import importlib.util
import statistics
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_catalog.py"


@pytest.mark.benchmark
def test_words_search_over_131072_labels_under_50ms():
    spec = importlib.util.spec_from_file_location("bench_catalog", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from steerdesk.engine.catalog import WordIndex

    labels = bench.synthetic_labels(131_072)
    index = WordIndex(labels)
    index.search("warm up")
    queries = ["german text", "references to", "kalum", "medcal", "text german", "the",
               labels[3], "zzzzqqq"]
    times = []
    for _ in range(5):
        for q in queries:
            t = time.perf_counter()
            index.search(q, 50)
            times.append(time.perf_counter() - t)
    median_ms = 1000 * statistics.median(times)
    print(f"words search over 131,072 labels: median {median_ms:.1f} ms, "
          f"max {1000 * max(times):.1f} ms")
    assert median_ms < 50
