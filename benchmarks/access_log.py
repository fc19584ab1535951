"""What the access log costs per request: Hello World keep-alive (wrk -t1
-c64, the server pinned to core 0 and wrk to core 1, as benchmarks.compare
does) with the log off, on into a NullHandler (gathering the fields and the
logging call, no formatting), and on into a FileHandler (the line formatted
and written), N interleaved runs each, medians.

    python -m benchmarks.access_log [--runs 5] [--seconds 3]

The cost per request is 1/rate(on) - 1/rate(off), in microseconds of the
server's one core.
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
access.setLevel(logging.INFO)
if mode == "null":
    access.addHandler(logging.NullHandler())
elif mode == "file":
    access.addHandler(logging.FileHandler(path))
server = fastcore.Server(app, "127.0.0.1", port, access_log=mode != "off")
server.serve_forever(ready=lambda: print("ready", flush=True))
"""

MODES = ("off", "null", "file")


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_run(mode: str, seconds: float, log_path: str) -> float:
    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    server = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", SERVE, mode,
                               str(port), log_path], cwd=root, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}/"
        subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", "-d1", url],
                       capture_output=True, check=True)            # warm-up
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{seconds}", url],
                             capture_output=True, text=True, check=True).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert match, out
        return float(match.group(1))
    finally:
        server.terminate()
        server.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        sys.exit("needs wrk and taskset")
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.path.join(tmp, "access.log")
        for _ in range(args.runs):
            for mode in MODES:
                rates[mode].append(one_run(mode, args.seconds, log_path))
                time.sleep(0.2)
    off = statistics.median(rates["off"])
    print(f"{'access log':<22} {'req/s (median)':>15} {'us/request':>11} {'cost us/req':>12}")
    for mode, label in zip(MODES, ("off", "on, NullHandler", "on, FileHandler")):
        rate = statistics.median(rates[mode])
        cost = "" if mode == "off" else f"{(1 / rate - 1 / off) * 1e6:.2f}"
        print(f"{label:<22} {rate:>15.0f} {1e6 / rate:>11.2f} {cost:>12}")
    print("runs:", {mode: [round(r) for r in values] for mode, values in rates.items()})


if __name__ == "__main__":
    main()
