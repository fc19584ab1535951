"""One measurement: start a peer for a scenario, check its answers, warm it
up, run the load N times with the server's CPU time read around each run,
and keep the medians. compare.py, report.py and the pytest suite all
measure through here, so their numbers mean the same thing."""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from dataclasses import dataclass, field

from benchmarks import cpus, load, peers, probe, procstat
from benchmarks.scenarios import Scenario


class Skip(Exception):
    """The peer is not installed or has nothing to do in this scenario."""


class Wrong(Exception):
    """The peer answers this scenario incorrectly (status, body, or not
    every pipelined request): there is nothing meaningful to measure."""


@dataclass
class Measurement:
    peer: str
    scenario: str
    status: str = "ok"           # ok, skipped, wrong, failed
    reason: str = ""
    rps: float = 0.0             # median over runs
    p50_us: float = 0.0          # median over runs of each run's p50
    p99_us: float = 0.0
    cpu_us: float = 0.0          # server CPU time per request, microseconds
    server_cpu_pct: float = 0.0  # server CPU time / wall time: ~100 means saturated
    load_cpu_pct: float = 0.0    # the same for the load generator
    # Time other processes took on the two cores during the runs, as a share
    # of the wall time: above a few percent the numbers are disturbed.
    others_pct: float = 0.0
    # The best run (highest req/s, lowest CPU per request): on a machine
    # whose speed drifts, the least disturbed run of each peer.
    best_rps: float = 0.0
    best_cpu_us: float = 0.0
    mbps: float = 0.0            # response bytes (heads too) per second, 10^6 bytes
    # Peak RSS of the server's processes during the runs (the highest run):
    # the sum of their VmHWM, reset at the start of each run (procstat.py).
    peak_rss_mib: float = 0.0
    rss_since_start: bool = False   # the reset was refused: peak since start-up
    requests: int = 0            # over all measured runs
    tool: str = ""
    runs: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check_available(peer: peers.Peer, scenario: Scenario) -> None:
    reason = peer.missing() or peer.unsupported(scenario)
    if reason:
        raise Skip(reason)


def check_answers(server: peers.Running, scenario: Scenario, docroot: str) -> probe.Verdict:
    verdict = probe.check(server.port, scenario.request(server.port), scenario.depth,
                          scenario.expected_body(docroot))
    if verdict.problem:
        raise Wrong(f"{server.peer.name} answers incorrectly: {verdict.problem}")
    server.closes_silently = scenario.close and not verdict.announces_close
    return verdict


def _load(server: peers.Running, scenario: Scenario, seconds: float,
          use: str | None = None) -> load.LoadResult:
    try:
        return load.run(server.port, scenario, seconds, use)
    except Exception as exc:
        if server.alive():
            raise
        raise RuntimeError(f"{server.peer.name} died under load (exit "
                           f"{server.process.returncode}); log: {server.log_tail()}") from exc


def warm(server: peers.Running, scenario: Scenario, seconds: float) -> None:
    """Unmeasured load first: connections, caches, lazy imports, page cache.
    wrk runs whole seconds only (-d1s at least), so a shorter warm-up (the
    bounded CI form's 0.3 s) comes from loadgen."""
    if seconds > 0:
        _load(server, scenario, seconds, "loadgen" if seconds < 1 else None)


def load_runs(server: peers.Running, scenario: Scenario, seconds: float, runs: int,
              warmup: float = 0.0) -> Measurement:
    """The load runs against a started, checked server (the first right
    after the warm-up: callers wait for a quiet machine before that)."""
    m = Measurement(server.peer.name, scenario.name)
    warm(server, scenario, warmup)
    one = dataclasses.replace(scenario, depth=1).request(server.port)
    for i in range(runs):
        if i:
            wait_quiet()
        probe.caught_up(server.port, one)
        reset = procstat.reset_peak_rss(server.pid)
        before = procstat.cpu_seconds(server.pid)
        cores = _cores()
        result = _load(server, scenario, seconds)
        cores = _cores() - cores
        cpu = procstat.cpu_seconds(server.pid) - before
        peak_rss = procstat.peak_rss_bytes(server.pid)
        if not server.alive():
            return _failed(m, f"{server.peer.name} died under load (exit "
                              f"{server.process.returncode}); log: {server.log_tail()}")
        failure = result.failure()
        if failure and server.closes_silently and _only_close_errors(result, scenario):
            # It closes after answering, as asked, but without saying
            # Connection: close (RFC 9112 section 9.6: SHOULD). wrk then
            # counts each close as a read error although the response was
            # complete; they are expected, not a failure.
            m.reason = (f"closes without Connection: close; {result.errors['read']} "
                        "read errors from that not counted as failures")
            failure = None
        if failure:
            return _failed(m, failure)
        m.runs.append(dict(rps=result.rps, p50_us=result.p50_us, p99_us=result.p99_us,
                           cpu_us=cpu / result.requests * 1e6,
                           server_cpu_pct=100 * cpu / result.seconds,
                           load_cpu_pct=100 * result.load_cpu_seconds / result.seconds,
                           others_pct=max(0.0, 100 * (cores - cpu - result.load_cpu_seconds)
                                          / result.seconds),
                           mbps=result.bytes / result.seconds / 1e6,
                           peak_rss_mib=peak_rss / 2**20, rss_since_start=not reset,
                           requests=result.requests))
        m.tool = result.tool
    return combine([m])


# On a shared machine (other builds, other tests), each run first waits up
# to this long for the two cores to be nearly idle; others_pct then says
# how disturbed the run still was.
QUIET_WAIT = float(os.environ.get("FASTCORE_BENCH_QUIET_WAIT", "15"))


def wait_quiet(limit: float = QUIET_WAIT, busy_pct: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = _cores()
        time.sleep(0.3)
        if 100 * (_cores() - before) / 0.3 < busy_pct:
            return


def _only_close_errors(result: load.LoadResult, scenario: Scenario) -> bool:
    others = sum(v for k, v in result.errors.items() if k != "read")
    return others == 0 and result.errors["read"] <= result.requests + scenario.connections


def _cores() -> float:
    cores = {cpus.SERVER_CPU, cpus.LOAD_CPU} - {None}
    return sum(procstat.core_seconds(c) for c in cores)


def _failed(m: Measurement, reason: str) -> Measurement:
    m.status, m.reason = "failed", reason
    return m


def measure(peer: peers.Peer, scenario: Scenario, docroot: str, seconds: float,
            runs: int = 1, warmup: float = 1.0) -> Measurement:
    """Everything above in one call; problems become the Measurement's
    status and reason instead of exceptions."""
    try:
        check_available(peer, scenario)
        scenario.prepare(docroot)
        with peers.run(peer, scenario, docroot) as server:
            check_answers(server, scenario, docroot)
            wait_quiet()
            return load_runs(server, scenario, seconds, runs, warmup)
    except Skip as exc:
        return Measurement(peer.name, scenario.name, "skipped", str(exc))
    except Wrong as exc:
        return Measurement(peer.name, scenario.name, "wrong", str(exc))
    except Exception as exc:            # a peer that cannot start must not stop the rest
        return Measurement(peer.name, scenario.name, "failed", f"{type(exc).__name__}: {exc}")


def combine(parts: list[Measurement]) -> Measurement:
    """One measurement from several of the same peer and scenario (e.g.
    interleaved rounds): medians over all their runs; the first that was
    not ok, if any, stands for all."""
    for part in parts:
        if not part.ok:
            return part
    m = Measurement(parts[0].peer, parts[0].scenario, tool=parts[0].tool,
                    reason=next((p.reason for p in parts if p.reason), ""),
                    runs=[run for part in parts for run in part.runs])
    for key in ("rps", "p50_us", "p99_us", "cpu_us", "server_cpu_pct", "load_cpu_pct",
                "others_pct", "mbps"):
        setattr(m, key, statistics.median(run[key] for run in m.runs))
    # A peak is a peak: the highest of the runs, not their median.
    m.peak_rss_mib = max(run["peak_rss_mib"] for run in m.runs)
    m.rss_since_start = any(run["rss_since_start"] for run in m.runs)
    m.best_rps = max(run["rps"] for run in m.runs)
    m.best_cpu_us = min(run["cpu_us"] for run in m.runs)
    m.requests = sum(run["requests"] for run in m.runs)
    return m


def ratios(fastcore: Measurement, peer: Measurement) -> dict[str, float]:
    """fastcore / peer: above 1 is better for req/s, below 1 is better for
    CPU per request, latency and memory."""
    if not (fastcore.ok and peer.ok):
        return {}
    out = {}
    for key in ("rps", "cpu_us", "p99_us", "best_rps", "best_cpu_us", "peak_rss_mib"):
        mine, theirs = getattr(fastcore, key), getattr(peer, key)
        if theirs:
            out[key] = mine / theirs
    return out
