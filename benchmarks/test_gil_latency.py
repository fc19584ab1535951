"""pytest benchmarks --benchmark-only: benchmarks/gil_latency.py's cases

One pytest-benchmark group: an embedded fastcore (and
FASTCORE_BENCH_BASELINE's build) with its main thread busy in Python, then
asleep; FASTCORE_BENCH_GIL_REQUESTS sequential requests per connection
mode. The percentiles are in extra_info and in the summary at the end.
"""

from __future__ import annotations

import pytest

from benchmarks import gil_latency, peers
from benchmarks.settings import BASELINE, GIL_REQUESTS

BUILDS = [("fastcore", peers.THIS_TREE)] + (
    [(f"fastcore@{BASELINE}", peers.baseline(BASELINE).build)] if BASELINE else [])
CASES = [(main, name, build) for main in gil_latency.MAIN_MODES for name, build in BUILDS]


@pytest.mark.parametrize("main,name,build", CASES, ids=[f"{m}-{n}" for m, n, _ in CASES])
def test_gil_latency(benchmark, main, name, build, registry):
    benchmark.group = "gil: embedded Server, main thread busy in Python or asleep"
    problem = build.ready()
    if problem:
        if build is peers.THIS_TREE:
            pytest.fail(problem)
        pytest.skip(f"{name}: {problem}")
    cases = benchmark.pedantic(gil_latency.measure, args=(build, name, main, GIL_REQUESTS),
                               rounds=1, iterations=1)
    registry.gil += cases
    for case in cases:
        benchmark.extra_info[case.connection] = {
            k: round(v, 3) for k, v in case.summary().items()}
    benchmark.extra_info["switch_interval_ms"] = cases[0].switch_interval * 1e3
