"""Which core the server runs on and which the load generator runs on.

On a 2-core machine the server gets one core and wrk the other, so neither
steals the other's time and a server's req/s is bounded by its own core.
FASTCORE_BENCH_SERVER_CPU and FASTCORE_BENCH_LOAD_CPU override the choice;
with a single usable core nothing is pinned (and the results say so).
"""

from __future__ import annotations

import os


def _choose() -> tuple[int | None, int | None]:
    usable = sorted(os.sched_getaffinity(0))
    server = os.environ.get("FASTCORE_BENCH_SERVER_CPU")
    load = os.environ.get("FASTCORE_BENCH_LOAD_CPU")
    if server is not None or load is not None:
        return (int(server) if server else None), (int(load) if load else None)
    if len(usable) < 2:
        return None, None
    return usable[0], usable[1]


SERVER_CPU, LOAD_CPU = _choose()


def pinner(cpu: int | None):
    """A preexec_fn for subprocess.Popen that pins the child (and so all it
    starts) to `cpu`, or None when nothing is pinned."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def describe() -> str:
    if SERVER_CPU is None and LOAD_CPU is None:
        return "not pinned (fewer than 2 usable cores)"
    return f"server on CPU {SERVER_CPU}, load generator on CPU {LOAD_CPU}"
