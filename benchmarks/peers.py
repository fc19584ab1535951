"""The servers compared, and how to start and stop each for a scenario.

Each peer runs as its own process (its own session, so its workers can be
stopped with it), pinned to the server core, on a free port of 127.0.0.1,
serving the same URLs (see apps/). A peer that is not installed or cannot
do a scenario says why (`missing`, `unsupported`), so callers skip it with
that reason instead of dropping it silently.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from benchmarks import cpus
from benchmarks.scenarios import Scenario

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = os.path.join(REPO, "benchmarks", "apps")
PY = sys.executable


def _modules_missing(*names: str) -> str | None:
    absent = [n for n in names if importlib.util.find_spec(n) is None]
    return f"not installed: {', '.join(absent)} (benchmarks/install-peers.sh)" if absent else None


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError:
        return "not installed"
    return ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0]


class Peer:
    name = ""
    label = ""                 # what exactly runs, for tables
    kinds = frozenset({"hello", "echo", "static"})

    def missing(self) -> str | None:
        """Why this peer cannot run on this machine at all, or None."""
        return None

    def unsupported(self, scenario: Scenario) -> str | None:
        """Why this peer has nothing to measure in `scenario`, or None."""
        if scenario.kind not in self.kinds:
            return f"{self.name} has no {scenario.kind} handler in this suite"
        return None

    def command(self, port: int, docroot: str, workdir: str, scenario: Scenario) -> list[str]:
        raise NotImplementedError

    def version(self) -> str:
        return _dist_version(self.name)


class Fastcore(Peer):
    name = "fastcore"
    label = "fastcore (this tree)"

    def missing(self) -> str | None:
        try:
            import fastcore._core  # noqa: F401
        except ImportError as exc:
            return f"fastcore is not built: {exc} (python setup.py build_ext --inplace)"
        return None

    def unsupported(self, scenario: Scenario) -> str | None:
        if scenario.kind == "static":
            import fastcore
            if not hasattr(fastcore.App, "static"):
                return "fastcore.App has no static() yet in this tree"
        return None

    def command(self, port, docroot, workdir, scenario):
        return [PY, "-m", "benchmarks.apps.fastcore_app", str(port), docroot]

    def version(self) -> str:
        import fastcore
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        return f"{fastcore.__version__} ({head or 'no git'})"


class CEpoll(Peer):
    name = "c-epoll"
    label = "C epoll Hello World (apps/c_epoll.c, the ceiling)"
    kinds = frozenset({"hello"})
    _binary: str | None = None

    def missing(self) -> str | None:
        return None if shutil.which("gcc") else "gcc is not installed"

    def command(self, port, docroot, workdir, scenario):
        if CEpoll._binary is None:
            # Built once per process into a temporary directory, never kept.
            build = tempfile.mkdtemp(prefix="fastcore-bench-c-")
            atexit.register(shutil.rmtree, build, ignore_errors=True)
            out = os.path.join(build, "c_epoll")
            subprocess.run(["gcc", "-O2", "-Wall", "-o", out,
                            os.path.join(APPS, "c_epoll.c")], check=True)
            CEpoll._binary = out
        return [CEpoll._binary, str(port)]

    def version(self) -> str:
        return _first_line(["gcc", "--version"])


class Nginx(Peer):
    name = "nginx"
    label = "nginx (1 worker)"
    kinds = frozenset({"hello", "static"})

    def _binary(self) -> str | None:
        return shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)

    def missing(self) -> str | None:
        return None if self._binary() else "nginx is not installed (benchmarks/install-peers.sh)"

    def unsupported(self, scenario):
        if scenario.kind == "echo":
            return "nginx cannot echo a request body without an upstream or extra module"
        return super().unsupported(scenario)

    def command(self, port, docroot, workdir, scenario):
        with open(os.path.join(APPS, "nginx.conf")) as f:
            conf = f.read()
        for key, value in (("@PREFIX@", workdir), ("@PORT@", str(port)), ("@DOCROOT@", docroot)):
            conf = conf.replace(key, value)
        path = os.path.join(workdir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return [self._binary(), "-p", workdir, "-c", path, "-e", os.path.join(workdir, "error.log")]

    def version(self) -> str:
        return _first_line([self._binary() or "nginx", "-v"]).replace("nginx version: ", "")


class Uvicorn(Peer):
    name = "uvicorn"
    label = "uvicorn (httptools + uvloop, raw ASGI)"

    def missing(self):
        return _modules_missing("uvicorn", "uvloop", "httptools")

    def command(self, port, docroot, workdir, scenario):
        return [PY, "-m", "uvicorn", "benchmarks.apps.asgi_app:app", "--host", "127.0.0.1",
                "--port", str(port), "--loop", "uvloop", "--http", "httptools",
                "--lifespan", "off", "--no-access-log", "--log-level", "warning"]

    def version(self):
        return (f"{_dist_version('uvicorn')} (httptools {_dist_version('httptools')}, "
                f"uvloop {_dist_version('uvloop')})")


class Granian(Peer):
    name = "granian"
    label = "granian (RSGI, 1 worker, single-threaded runtime)"

    def missing(self):
        return _modules_missing("granian")

    def command(self, port, docroot, workdir, scenario):
        argv = [PY, "-m", "granian", "--interface", "rsgi", "--http", "1", "--workers", "1",
                "--runtime-mode", "st", "--runtime-threads", "1", "--blocking-threads", "1",
                "--no-ws", "--log-level", "warning", "--no-access-log",
                "--host", "127.0.0.1", "--port", str(port)]
        if importlib.util.find_spec("uvloop") is not None:
            argv += ["--loop", "uvloop"]
        if scenario.depth > 1:
            # granian's own switch for pipelined clients (off by default).
            argv.append("--http1-pipeline-flush")
        if scenario.kind == "static":
            # granian's built-in static mount: the counterpart of app.static().
            argv += ["--static-path-route", "/static", "--static-path-mount", docroot]
        return argv + ["benchmarks.apps.rsgi_app:app"]


class Socketify(Peer):
    name = "socketify"
    label = "socketify (uWebSockets, 1 process)"

    def missing(self):
        if importlib.util.find_spec("socketify") is None:
            return _modules_missing("socketify")
        # The package loads a prebuilt native library at import time.
        done = subprocess.run([PY, "-c", "import socketify"], capture_output=True, text=True)
        if done.returncode != 0:
            return f"socketify does not load: {done.stderr.strip()[-200:]}"
        return None

    def command(self, port, docroot, workdir, scenario):
        return [PY, "-m", "benchmarks.apps.socketify_app", str(port), docroot]


class Bjoern(Peer):
    name = "bjoern"
    label = "bjoern (WSGI, libev)"

    def missing(self):
        return _modules_missing("bjoern")

    def command(self, port, docroot, workdir, scenario):
        return [PY, "-m", "benchmarks.apps.wsgi_app", str(port), docroot]


class HttpServer(Peer):
    name = "http.server"
    label = "http.server (ThreadingHTTPServer, stdlib)"

    def command(self, port, docroot, workdir, scenario):
        return [PY, "-m", "benchmarks.apps.httpserver_app", str(port), docroot]

    def version(self):
        return f"Python {sys.version.split()[0]}"


PEERS: list[Peer] = [Fastcore(), CEpoll(), Nginx(), Uvicorn(), Granian(), Socketify(),
                     Bjoern(), HttpServer()]
BY_NAME = {p.name: p for p in PEERS}


@dataclass
class Running:
    peer: Peer
    port: int
    process: subprocess.Popen
    log: str
    # Set by the answer check: closes after Connection: close without
    # announcing it in the response (see runner.load_runs).
    closes_silently: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self) -> str:
        with contextlib.suppress(OSError), open(self.log, errors="replace") as f:
            return f.read()[-800:].strip()
        return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def run(peer: Peer, scenario: Scenario, docroot: str) -> Iterator[Running]:
    """Start `peer` for `scenario`, yield it once it listens, stop it after."""
    from benchmarks import probe

    workdir = tempfile.mkdtemp(prefix=f"fastcore-bench-{peer.name}-")
    os.chmod(workdir, 0o755)
    port = _free_port()
    argv = peer.command(port, docroot, workdir, scenario)
    log = os.path.join(workdir, "server.log")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (REPO, os.environ.get("PYTHONPATH")) if p),
        FASTCORE_BENCH_DOCROOT=docroot, PYTHONUNBUFFERED="1")
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=cpus.pinner(cpus.SERVER_CPU))
    running = Running(peer, port, process, log)
    try:
        try:
            probe.wait_listening(port, running.alive)
        except RuntimeError as exc:
            raise RuntimeError(
                f"{peer.name} did not start: {exc}; log: {running.log_tail()}") from None
        yield running
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group (it is the leader: only it and
    its workers are in it), then SIGKILL what is left after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            # Workers may outlive the leader by a moment.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue
