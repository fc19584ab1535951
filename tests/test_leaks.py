"""No leaks: after a warm-up, N keep-alive requests, and N connect-request-
close cycles, leave the server process's RSS within 5% and its descriptor
count unchanged.

The server runs in a subprocess (tests/server_process.py), so its RSS and
/proc/PID/fd are its own. Load comes from wrk where it is installed (in
slices of a few seconds until N requests are done; with "Connection: close"
for the cycles) and from raw sockets otherwise; under CI (FASTCORE_CI=1)
wrk is required.

Sizes: FASTCORE_LEAK_REQUESTS (default 100,000; the full run is 1,000,000)
and FASTCORE_LEAK_CONNECTIONS (default 10,000; full 100,000):

    FASTCORE_LEAK_REQUESTS=1000000 FASTCORE_LEAK_CONNECTIONS=100000 \\
        PYTHONPATH=. python -m pytest tests/test_leaks.py -q
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import require_tool
from helpers import RawClient, request_bytes, wait_until
from server_process import ServerProcess, fd_count, rss_kib

REQUESTS = int(os.environ.get("FASTCORE_LEAK_REQUESTS", "100000"))
CONNECTIONS = int(os.environ.get("FASTCORE_LEAK_CONNECTIONS", "10000"))

pytestmark = pytest.mark.slow


def wrk_path() -> str | None:
    if os.environ.get("FASTCORE_CI") == "1":
        return require_tool("wrk")
    return shutil.which("wrk")


def wrk_load(wrk: str, port: int, count: int, close: bool) -> int:
    """Run wrk in slices until at least `count` requests are answered, every
    one 2xx and without socket errors; returns how many were made."""
    done = 0
    while done < count:
        args = [wrk, "-t1", "-c8", "-d2s", f"http://127.0.0.1:{port}/"]
        if close:
            args[1:1] = ["-H", "Connection: close"]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "Non-2xx" not in result.stdout and "Socket errors" not in result.stdout, \
            result.stdout
        made = re.search(r"(\d+) requests in", result.stdout)
        assert made, result.stdout
        done += int(made.group(1))
    return done


def raw_keep_alive(port: int, count: int, batch: int = 100) -> int:
    request = request_bytes()
    with RawClient(port) as client:
        done = 0
        while done < count:
            n = min(batch, count - done)
            client.send(request * n)
            assert all(client.response().status == 200 for _ in range(n))
            done += n
    return done


def raw_cycles(port: int, count: int) -> int:
    request = request_bytes(headers=[("Connection", "close")])
    for _ in range(count):
        with RawClient(port) as client:
            client.send(request)
            assert client.response().status == 200
            assert client.finish() == b""
    return count


def load(port: int, count: int, close: bool) -> int:
    wrk = wrk_path()
    if wrk is not None:
        return wrk_load(wrk, port, count, close)
    return raw_cycles(port, count) if close else raw_keep_alive(port, count)


@pytest.mark.parametrize("close, count", [
    pytest.param(False, REQUESTS, id="keep-alive-requests"),
    pytest.param(True, CONNECTIONS, id="connection-cycles"),
])
def test_rss_and_descriptors_are_stable(close, count):
    with ServerProcess() as server:
        fds_idle = fd_count(server.pid)
        # Warm-up: a tenth of the run (at least 10,000), so that caches,
        # free lists and the allocator's arenas reach their working size.
        load(server.port, max(count // 10, 10_000), close)
        wait_until(lambda: fd_count(server.pid) == fds_idle, what="warm-up connections closed")
        rss_before = rss_kib(server.pid)
        made = load(server.port, count, close)
        assert made >= count
        wait_until(lambda: fd_count(server.pid) == fds_idle, what="connections closed")
        rss_after = rss_kib(server.pid)
        assert rss_after <= rss_before * 1.05, (
            f"RSS {rss_before} KiB before {made} requests, {rss_after} KiB after")
        assert fd_count(server.pid) == fds_idle
        assert server.alive() and server.stop() == 0
