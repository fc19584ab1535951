"""The pure-Python work of the cpu100us scenario: sum(range(n)), with n
calibrated once by the benchmark process (so every server and every worker
does the same work) and handed to the apps in FASTCORE_BENCH_WORK_N."""

from __future__ import annotations

import os
import time

TARGET_SECONDS = 100e-6


def spin(n: int) -> int:
    return sum(range(n))


def calibrate(target: float = TARGET_SECONDS) -> int:
    """The n for which spin(n) takes `target` on this machine: the fastest of
    several timings, since on a shared machine only interruptions vary."""
    n, best = 10_000, float("inf")
    for _ in range(30):
        start = time.perf_counter()
        spin(n)
        best = min(best, time.perf_counter() - start)
    return max(1, round(n * target / best))


def loop_count() -> int:
    """n from the environment (set by benchmarks/peers.py), else calibrated
    here."""
    value = os.environ.get("FASTCORE_BENCH_WORK_N")
    return int(value) if value else calibrate()
