"""pytest side of the benchmarks: the shared docroot, the registry that
turns each measurement into ratios against fastcore, and the summary table
printed at the end of the run.

Only `pytest benchmarks ...` loads this file: the root configuration's
testpaths is ["tests"], so a plain `pytest` never collects benchmarks/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from benchmarks import gil_latency, machine, runner, scenarios, tables
from benchmarks.settings import BASELINE, GIL_REQUESTS, RUNS, SECONDS, WARMUP


class Registry:
    """Every measurement of the session, by scenario then peer. fastcore
    runs first in each scenario (see test_load.py), so each peer's result
    can be set against it as soon as it arrives, in both extra_infos."""

    def __init__(self) -> None:
        self.results: tables.Results = {}
        self.extra: dict[tuple[str, str], dict] = {}
        self.gil: list[gil_latency.Case] = []       # test_gil_latency.py

    def add(self, m: runner.Measurement, extra_info: dict | None = None) -> None:
        self.results.setdefault(m.scenario, {})[m.peer] = m
        if extra_info is None:
            return
        self.extra[(m.scenario, m.peer)] = extra_info
        extra_info.update(status=m.status, reason=m.reason, rps=round(m.rps),
                          p50_us=round(m.p50_us), p99_us=round(m.p99_us),
                          cpu_us_per_request=round(m.cpu_us, 3),
                          server_cpu_pct=round(m.server_cpu_pct, 1),
                          others_cpu_pct=round(m.others_pct, 1),
                          best_rps=round(m.best_rps),
                          best_cpu_us_per_request=round(m.best_cpu_us, 3),
                          mb_per_s=round(m.mbps, 1), peak_rss_mib=round(m.peak_rss_mib, 2),
                          peak_rss_since_start=m.rss_since_start,
                          requests=m.requests, runs=len(m.runs), load_tool=m.tool)
        fastcore = self.results[m.scenario].get("fastcore")
        if m.peer == "fastcore" or fastcore is None:
            return
        r = runner.ratios(fastcore, m)
        if not r:
            return
        extra_info.update(fastcore_over_peer_rps=round(r["rps"], 3),
                          fastcore_over_peer_cpu=round(r["cpu_us"], 3))
        fc_extra = self.extra.get((m.scenario, "fastcore"))
        if fc_extra is not None:
            fc_extra[f"ratio_rps_vs_{m.peer}"] = round(r["rps"], 3)
            fc_extra[f"ratio_cpu_vs_{m.peer}"] = round(r["cpu_us"], 3)


_REGISTRY = pytest.StashKey[Registry]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REGISTRY] = Registry()


@pytest.fixture(scope="session")
def registry(request: pytest.FixtureRequest) -> Registry:
    return request.config.stash[_REGISTRY]


@pytest.fixture(scope="session")
def docroot() -> Iterator[str]:
    root = scenarios.make_docroot()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.hookimpl(trylast=True)      # after pytest-benchmark's own tables
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    registry = config.stash.get(_REGISTRY, None)
    if registry is None or not (registry.results or registry.gil):
        return
    write = terminalreporter.write_line
    terminalreporter.section("fastcore vs peers (ratios are fastcore / peer)")
    for key, value in machine.describe().items():
        write(f"{key}: {value}")
    write(f"each: {SECONDS:g} s x {RUNS} run(s) after {WARMUP:g} s of warm-up "
          "(FASTCORE_BENCH_SECONDS, FASTCORE_BENCH_RUNS, FASTCORE_BENCH_WARMUP)")
    for s in scenarios.SCENARIOS:
        if s.name in registry.results:
            write("")
            write(f"{s.name}: {s.title} (-c{s.connections}"
                  + (f", latency per batch of {s.depth}" if s.depth > 1 else "") + ")")
            for line in tables.text_table(registry.results, s.name).splitlines():
                write("  " + line)
    if BASELINE:
        write("")
        write(f"fastcore against fastcore@{BASELINE} (fc/base: this tree / baseline):")
        for line in tables.render_text(tables.BASELINE_COLUMNS, tables.baseline_rows(
                registry.results, f"fastcore@{BASELINE}")).splitlines():
            write("  " + line)
    if registry.gil:
        write("")
        write(f"GIL latency of an embedded fastcore ({gil_latency.describe(GIL_REQUESTS)}):")
        for line in tables.render_text(gil_latency.COLUMNS,
                                       gil_latency.rows(registry.gil)).splitlines():
            write("  " + line)
    lines = tables.target_lines(registry.results) + gil_latency.target_lines(registry.gil)
    if lines:
        write("")
        write("targets:")
        for text, verdict, detail in lines:
            write(f"  {verdict:<4}  {text}: {detail}")
