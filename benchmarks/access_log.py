"""What the access log costs per request: Hello World keep-alive (wrk -t1
-c64, the server pinned to core 0 and wrk to core 1, as benchmarks.compare
does) with the log off, on with the fastcore.access logger at WARNING (the
fields gathered, no record made), on into a NullHandler (the record made,
no formatting), and on into a FileHandler (the line formatted
and written), N interleaved runs each, medians; and, for comparison with
the route `/` (a handler returning bytes), the health path answered by the
engine, with the log off.

    python -m benchmarks.access_log [--runs 5] [--seconds 3]

The cost per request is the server's CPU time per request (user + system,
from /proc, over the measured run) with the log on minus with it off, in
microseconds: unlike req/s it holds when other work shares the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SERVE = r"""
import logging, sys
import fastcore
from benchmarks.apps.fastcore_app import app
mode, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
access = logging.getLogger("fastcore.access")
access.propagate = False
access.setLevel(logging.WARNING if mode == "quiet" else logging.INFO)
if mode == "null":
    access.addHandler(logging.NullHandler())
elif mode == "file":
    access.addHandler(logging.FileHandler(path))
server = fastcore.Server(app, "127.0.0.1", port, access_log=mode in ("quiet", "null", "file"),
                         health_path="/healthz")
server.serve_forever(ready=lambda: print("ready", flush=True))
"""

MODES = ("off", "quiet", "null", "file", "health")


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(mode: str, seconds: float, log_path: str) -> tuple[float, float]:
    # (req/s, CPU us per request)
    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    server = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", SERVE, mode,
                               str(port), log_path], cwd=root, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}/" + ("healthz" if mode == "health" else "")
        subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", "-d1", url],
                       capture_output=True, check=True)            # warm-up
        before = cpu_seconds(server.pid)
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{seconds}", url],
                             capture_output=True, text=True, check=True).stdout
        cpu = cpu_seconds(server.pid) - before
        rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
        count = re.search(r"(\d+) requests in", out)
        assert rate and count, out
        return float(rate.group(1)), cpu / int(count.group(1)) * 1e6
    finally:
        server.terminate()
        server.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        sys.exit("needs wrk and taskset")
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.path.join(tmp, "access.log")
        for _ in range(args.runs):
            for mode in MODES:
                rate, us = one_run(mode, args.seconds, log_path)
                rates[mode].append(rate)
                cpu[mode].append(us)
                time.sleep(0.2)
    off = statistics.median(cpu["off"])
    print(f"{'access log':<22} {'req/s (median)':>15} {'CPU us/req':>11} {'cost us/req':>12}")
    for mode, label in zip(MODES, ("off", "on, logger at WARNING", "on, NullHandler",
                                   "on, FileHandler",
                                   "off, GET /healthz")):
        us = statistics.median(cpu[mode])
        cost = "" if mode == "off" else f"{us - off:.2f}"
        print(f"{label:<22} {statistics.median(rates[mode]):>15.0f} {us:>11.2f} {cost:>12}")
    print("CPU us/req of each run:",
          {mode: [round(v, 2) for v in values] for mode, values in cpu.items()})


if __name__ == "__main__":
    main()
