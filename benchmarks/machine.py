"""What a result was measured on: machine, versions, date. Printed with
every comparison, since req/s mean nothing without it."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess

from benchmarks import cpus, load
from benchmarks.peers import PEERS, Peer


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def wrk_version() -> str:
    if shutil.which("wrk") is None:
        return "not installed"
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    words = (done.stdout + done.stderr).split()
    return words[1] if len(words) > 1 else "?"


def describe() -> dict[str, str]:
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()}, {os.cpu_count()} cores",
        "kernel": f"{platform.system()} {platform.release()}",
        "pinning": cpus.describe(),
        "load generator": f"{load.tool()} (wrk {wrk_version()})",
        "python": platform.python_version(),
    }


def versions(peers: list[Peer] | None = None) -> dict[str, str]:
    """Each program's version once: variants (fastcore-w2, gunicorn-gthread)
    run the same software as the peer they vary."""
    return {p.name: p.version() for p in (PEERS if peers is None else peers)
            if p.variant_of is None}
