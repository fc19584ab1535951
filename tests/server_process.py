"""A server in a child process, and what a process costs.

``ServerProcess`` runs ``python tests/server_process.py CONFIG``: apps.py's
hello_app (or EchoApp) served with serve_forever(), so that its RSS,
descriptors and CPU time can be measured in isolation, its RLIMIT_NOFILE
lowered, and SIGTERM stops it gracefully. ``rss_kib``, ``fd_count`` and
``cpu_seconds`` read those from /proc, for the child or for this process.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys

from helpers import WAIT

# The project root, on the child's PYTHONPATH so that it imports the same
# fastcore as the tests (the child finds helpers and apps beside itself).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fd_count(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int | str = "self") -> float:
    """User plus system CPU time of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class ServerProcess:
    """``with ServerProcess(limits={...}, nofile=64) as proc:`` runs
    hello_app() (or EchoApp with app="echo") in a child process and knows
    its port and pid. The child serves with serve_forever(), so SIGTERM
    stops it gracefully."""

    def __init__(self, limits: dict | None = None, nofile: int | None = None,
                 app: str = "hello", log_file: str | None = None) -> None:
        self.config = {"limits": limits or {}, "nofile": nofile, "app": app}
        self.log_file = log_file
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> ServerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (ROOT, env.get("PYTHONPATH")) if p)
        stderr = open(self.log_file, "wb") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), json.dumps(self.config)],
            stdout=subprocess.PIPE, stderr=stderr, env=env)
        if self.log_file:
            stderr.close()
        ready, _, _ = select.select([self.process.stdout], [], [], WAIT * 2)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the server process did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait (the server's own drain is bounded by its
        shutdown_timeout, 10 s); returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and not self.process.stdout.closed:
            self.stop()


def _serve_main(config: dict) -> None:
    import resource

    import fastcore
    from apps import EchoApp, hello_app

    if config.get("nofile"):
        resource.setrlimit(resource.RLIMIT_NOFILE, (config["nofile"], config["nofile"]))
    limits = config.get("limits") or {}
    app = EchoApp() if config.get("app") == "echo" else hello_app()
    server = fastcore.Server(app, "127.0.0.1", 0, **limits)
    server.listen()
    # Announced once SIGTERM stops it gracefully, so the parent may signal.
    server.serve_forever(ready=lambda: print(f"PORT {server.port}", flush=True))


if __name__ == "__main__":
    _serve_main(json.loads(sys.argv[1]))
