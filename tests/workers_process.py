"""A ``python -m fastcore run`` master with its workers, in a subprocess,
for the worker and binding tests: the app module written to a directory,
the line that says it serves, its workers' pids, its log; and a steady
keep-alive load that records which worker answered each connection."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field

from helpers import WAIT, ClientThread, RawClient, request_bytes, wait_until

# Each response names the worker that served it.
APP = textwrap.dedent("""
    import os, time
    import fastcore

    app = fastcore.App()

    @app.route("/")
    def index(request):
        return f"{os.getpid()}"

    @app.route("/stuck")
    def stuck_in_a_handler(request):
        open(f"stuck-{os.getpid()}", "w").close()       # for the test to see
        time.sleep(60)
        return "late"
""")


class Master:
    """``python -m fastcore <args>`` in `directory` (where app.py is
    written), started by `start()`; ``url``/``port`` from its serving
    line; stderr kept in a file for ``log()``."""

    def __init__(self, directory: str, *args: str, app: str = APP,
                 env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = (),
                 command: list[str] | None = None) -> None:
        self.directory = str(directory)
        with open(os.path.join(self.directory, "app.py"), "w") as file:
            file.write(app)
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.pass_fds = pass_fds
        self.command = command
        self.log_path = os.path.join(self.directory, "master.log")
        self.line = ""

    def start(self, wait: bool = True) -> Master:
        log = open(self.log_path, "w")
        command = (self.command or []) + [sys.executable, "-m", "fastcore", *self.args]
        self.proc = subprocess.Popen(command, cwd=self.directory, stdout=subprocess.PIPE,
                                     stderr=log, text=True, env=self.env,
                                     pass_fds=self.pass_fds)
        log.close()
        if wait:
            self.wait_serving()
        return self

    def wait_serving(self, timeout: float = WAIT) -> str:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while "serving" not in self.line:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"no serving line; log:\n{self.log()}")
            if select.select([self.proc.stdout], [], [], left)[0]:
                self.line = self.proc.stdout.readline()
        return self.line

    @property
    def url(self) -> str:
        return self.line.split(" on ", 1)[1].split()[0]

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        with open(self.log_path) as file:
            return file.read()

    def workers(self) -> set[int]:
        """The master's children now."""
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as file:
                return {int(p) for p in file.read().split()}
        except FileNotFoundError:
            return set()

    def signal(self, number: int) -> None:
        os.kill(self.pid, number)

    def wait_exit(self, timeout: float = WAIT) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Master:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def served_by(port: int, path: str = "/") -> int:
    """The pid of the worker that answers one request on a new connection."""
    with RawClient(port) as client:
        client.send(request_bytes("GET", path))
        return int(client.response().body)


@dataclass
class Failure:
    pid: int | None             # who had answered on this connection (None: nobody yet)
    began: float                # when the connection was opened
    what: str


@dataclass
class Load:
    """`threads` clients sending keep-alive GETs to `port` as fast as they
    can until stop(). A reused connection that the server closes with no
    byte of a response, between two requests, is retried on a new one, as
    HTTP clients do (RFC 9112 section 9.3.1): counted in `retried`. Any
    other end of a connection is a failure."""
    port: int
    threads: int = 4
    answered: int = 0
    retried: int = 0
    pids: dict[int, int] = field(default_factory=dict)      # answers per worker
    failures: list[Failure] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.running = threading.Event()
        self.lock = threading.Lock()
        self.workers = [self.Client(self) for _ in range(self.threads)]

    class Client(ClientThread):
        def __init__(self, load: Load) -> None:
            super().__init__()
            self.load = load

        def drive(self) -> None:
            load = self.load
            while load.running.is_set():
                began = time.monotonic()
                try:
                    client = RawClient(load.port, timeout=WAIT)
                except (ConnectionRefusedError, ConnectionResetError) as exc:
                    with load.lock:
                        load.failures.append(Failure(None, began, repr(exc)))
                    return
                pid = None
                with client:
                    while load.running.is_set():
                        client.send(request_bytes("GET", "/"))
                        try:
                            response = client.response()
                        except AssertionError as exc:
                            with load.lock:
                                if pid is not None and not client.received:
                                    load.retried += 1
                                else:
                                    load.failures.append(Failure(pid, began, str(exc)))
                            break
                        pid = int(response.body)
                        with load.lock:
                            load.answered += 1
                            load.pids[pid] = load.pids.get(pid, 0) + 1
                        if response.closes:
                            break

    def start(self) -> Load:
        self.running.set()
        for worker in self.workers:
            worker.start()
        return self

    def stop(self) -> None:
        self.running.clear()
        for worker in self.workers:
            worker.join(WAIT)
            assert not worker.is_alive(), "a load client hung"
            if worker.error is not None:
                raise worker.error

    def wait_answers(self, more: int, timeout: float = WAIT) -> None:
        target = self.answered + more
        wait_until(lambda: self.answered >= target, timeout, what=f"{more} more answers")
