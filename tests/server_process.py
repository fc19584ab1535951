"""A server in a child process, and what a process costs.

``ServerProcess`` runs ``python tests/server_process.py CONFIG``: apps.py's
hello_app (or EchoApp, or any app a "module:factory" names) served with
serve_forever(), so that its RSS, descriptors and CPU time can be measured
in isolation, its RLIMIT_NOFILE lowered, its system calls traced, and
SIGTERM stops it gracefully. ``rss_kib``, ``fd_count`` and ``cpu_seconds``
read those from /proc, for the child or for this process; ``traced``
attaches strace to it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator

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


@contextlib.contextmanager
def traced(pid: int, syscalls: str) -> Iterator[list[str]]:
    """``with traced(proc.pid, "sendfile") as calls:`` attaches strace to
    every thread of process `pid` for the block; on the way out `calls`
    holds one line per traced call (``sendfile(9, 10, [0] => [5], 5) =
    5``). The block starts once strace has attached, and the process
    goes on untraced after it."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
        tracer = subprocess.Popen(
            ["strace", "-f", "-e", f"trace={syscalls}", "-o", log.name, "-p", str(pid)],
            stderr=subprocess.PIPE)
        assert tracer.stderr is not None
        # strace says "Process N attached" once the process is stopped in
        # its grip: from then on every call is seen.
        ready, _, _ = select.select([tracer.stderr], [], [], WAIT)
        line = tracer.stderr.readline().decode() if ready else ""
        calls: list[str] = []
        try:
            if "attached" not in line:
                raise AssertionError(f"strace did not attach to {pid}: {line!r}")
            yield calls
        finally:
            tracer.send_signal(signal.SIGINT)        # detaches, and writes out its log
            tracer.wait(WAIT)
            tracer.stderr.close()
        for line in log:
            # "PID call(...) = result"; signals ("---") and exits ("+++")
            # are not calls.
            fields = line.split(None, 1)
            if len(fields) == 2 and not fields[1].startswith(("+++", "---")):
                calls.append(fields[1].rstrip("\n"))


class ServerProcess:
    """``with ServerProcess(limits={...}, nofile=64) as proc:`` runs
    hello_app() (or EchoApp with app="echo", or the app that
    ``module.factory(**app_args)`` returns with app="module:factory", the
    module found beside this file) in a child process and knows its port
    and pid. The child serves with serve_forever(), so SIGTERM stops it
    gracefully."""

    def __init__(self, limits: dict | None = None, nofile: int | None = None,
                 app: str = "hello", log_file: str | None = None,
                 app_args: dict | None = None) -> None:
        self.config = {"limits": limits or {}, "nofile": nofile, "app": app,
                       "app_args": app_args or {}}
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
    name = config.get("app", "hello")
    if name == "echo":
        app = EchoApp()
    elif name == "hello":
        app = hello_app()
    else:
        module, _, factory = name.partition(":")
        app = getattr(importlib.import_module(module), factory)(**config.get("app_args", {}))
    server = fastcore.Server(app, "127.0.0.1", 0, **limits)
    server.listen()
    # Announced once SIGTERM stops it gracefully, so the parent may signal.
    server.serve_forever(ready=lambda: print(f"PORT {server.port}", flush=True))


if __name__ == "__main__":
    _serve_main(json.loads(sys.argv[1]))
