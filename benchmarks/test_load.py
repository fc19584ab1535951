"""pytest benchmarks --benchmark-only

One pytest-benchmark group per scenario, fastcore and its peers side by
side. wrk runs for a fixed time, so pytest-benchmark records one round (its
time columns are just the length of the run); the real numbers (req/s,
p50/p99, CPU per request, ratios to fastcore) are in each result's
extra_info and in the summary table that conftest.py prints at the end.
"""

from __future__ import annotations

import pytest

from benchmarks import peers, runner, scenarios
from benchmarks.settings import BASELINE, RUNS, SECONDS, WARMUP

# Scenario by scenario, fastcore first (and FASTCORE_BENCH_BASELINE's
# fastcore@REF right after it): each peer's ratio needs fastcore's result,
# and a peer measured minutes after fastcore would meet a machine in
# another state (a shared or virtual machine drifts).
CASES = [(s, p) for s in scenarios.SCENARIOS
         for p in peers.with_baseline(peers.PEERS, BASELINE) if p.serves(s)]


@pytest.mark.parametrize("scenario,peer", CASES, ids=[f"{s.name}-{p.name}" for s, p in CASES])
def test_load(benchmark, scenario, peer, docroot, registry):
    benchmark.group = f"{scenario.name}: {scenario.title}"
    benchmark.extra_info["peer"] = peer.label
    try:
        runner.check_available(peer, scenario)
    except runner.Skip as exc:
        registry.add(runner.Measurement(peer.name, scenario.name, "skipped", str(exc)))
        pytest.skip(f"{peer.name}: {exc}")
    try:
        scenario.prepare(docroot)
        with peers.run(peer, scenario, docroot) as server:
            try:
                runner.check_answers(server, scenario, docroot)
            except runner.Wrong as exc:
                registry.add(runner.Measurement(peer.name, scenario.name, "wrong", str(exc)))
                if peer.ours:
                    pytest.fail(str(exc))
                pytest.skip(str(exc))
            runner.wait_quiet()
            runner.warm(server, scenario, WARMUP)
            m = benchmark.pedantic(runner.load_runs, args=(server, scenario, SECONDS, RUNS),
                                   rounds=1, iterations=1)
    except Exception as exc:            # did not start, died, or the load tool failed
        m = runner.Measurement(peer.name, scenario.name, "failed", f"{type(exc).__name__}: {exc}")
    registry.add(m, benchmark.extra_info)
    if not m.ok:
        # This tree's fastcore must hold up; a peer (or the baseline) that
        # fails under load is a fact about it, reported but not a failure of
        # this suite.
        if peer.ours:
            pytest.fail(m.reason)
        pytest.xfail(f"{peer.name}: {m.reason}")
