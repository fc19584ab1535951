"""The servers compared, and how to start and stop each for a scenario.

Each peer runs as its own process (its own session, so its workers can be
stopped with it), pinned to the server core, on a free port of 127.0.0.1,
serving the same URLs (see apps/). A peer takes part in the scenarios of
its `kinds`; one that is not installed or cannot do a scenario says why
(`missing`, `unsupported`), so callers skip it with that reason instead of
dropping it silently.

fastcore appears several times: as itself, as each command-line variant a
scenario compares (`fastcore run --workers 2`, `--threads 32`, ...), and,
with --baseline REF, as `fastcore@REF`, built from git at REF (Build), so
that an engine change is measured before and after in one run. What a
fastcore build can do is asked of that build (benchmarks/features.py).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.metadata
import importlib.util
import json
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
from benchmarks.apps import work
from benchmarks.scenarios import Scenario

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = os.path.join(REPO, "benchmarks", "apps")
PY = sys.executable
# Baselines are built here, one directory per commit, and kept: the next
# run with the same REF (or another name for the same commit) reuses it.
BASELINES = os.path.join(REPO, "build", "bench-baseline")
# The WSGI app each WSGI scenario kind serves (apps/).
WSGI_APPS = {"wsgi": "benchmarks.apps.wsgi_app:app", "flask": "benchmarks.apps.flask_app:app",
             "sleep": "benchmarks.apps.wsgi_app:app"}


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
    # The scenario kinds this peer appears in (measured, or with the reason
    # it cannot be), and optionally only these scenarios of them.
    kinds = frozenset({"hello", "echo", "static"})
    only: frozenset[str] | None = None
    pinned = True              # to the server core; False: wherever the kernel puts it
    ours = False               # this tree's fastcore: its failures fail the suite
    variant_of: str | None = None   # another peer's software, run differently

    def serves(self, scenario: Scenario) -> bool:
        return scenario.kind in self.kinds and (self.only is None or scenario.name in self.only)

    def missing(self) -> str | None:
        """Why this peer cannot run on this machine at all, or None."""
        return None

    def unsupported(self, scenario: Scenario) -> str | None:
        """Why this peer has nothing to measure in `scenario`, or None."""
        if not self.serves(scenario):
            return f"{self.name} has no {scenario.name} handler in this suite"
        if scenario.kind == "flask" and (absent := _modules_missing("flask")):
            return absent
        return self.cannot(scenario)

    def cannot(self, scenario: Scenario) -> str | None:
        """A peer's own reason to sit out one of its scenarios."""
        return None

    def cwd(self) -> str:
        """The server's working directory: first on its sys.path."""
        return REPO

    def command(self, port: int, docroot: str, workdir: str, scenario: Scenario) -> list[str]:
        raise NotImplementedError

    def version(self) -> str:
        return _dist_version(self.name)


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


class Build:
    """A fastcore to run: this tree (`ref` None), or the tree at a git ref
    of this repository, built in BASELINES/<commit> with this interpreter
    (git archive, then setup.py build_ext --inplace, as for this tree) the
    first time it is asked for. Its directory is the server's working
    directory, so its fastcore comes first on sys.path; benchmarks/ always
    comes from this tree (PYTHONPATH), so both builds run the same apps."""

    def __init__(self, ref: str | None = None) -> None:
        self.ref = ref
        self.commit = ""
        self.root = REPO if ref is None else ""
        self._problem: str | None = None
        self._features: dict | None = None

    def ready(self) -> str | None:
        """None once this build is importable (building it if needed),
        else why it is not; asked once."""
        if self._features is None and self._problem is None:
            try:
                if self.ref is not None:
                    self.commit = _git("rev-parse", "--verify", f"{self.ref}^{{commit}}")
                    self.root = self._build()
                self._features = self._probe()
            except (RuntimeError, OSError) as exc:
                self._problem = str(exc)
        return self._problem

    def features(self) -> dict:
        """benchmarks/features.py's answer for this build (after ready())."""
        return self._features or {}

    def _probe(self) -> dict:
        done = subprocess.run([PY, "-m", "benchmarks.features"], cwd=self.root,
                              env=server_env(), capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            hint = (" (python setup.py build_ext --inplace)" if self.ref is None
                    else f"; build log in {self.root}/build.log")
            raise RuntimeError(f"fastcore does not import: "
                               f"{done.stderr.strip().splitlines()[-1:]}{hint}")
        found = json.loads(done.stdout)
        if not found["file"].startswith(os.path.join(self.root, "fastcore")):
            raise RuntimeError(f"the server would import {found['file']}, not this build")
        return found

    def _build(self) -> str:
        target = os.path.join(BASELINES, self.commit[:12])
        if os.path.isdir(target):
            return target
        os.makedirs(BASELINES, exist_ok=True)
        work_dir = tempfile.mkdtemp(prefix=f".{self.commit[:12]}-", dir=BASELINES)
        try:
            archive = subprocess.Popen(["git", "-C", REPO, "archive", self.commit],
                                       stdout=subprocess.PIPE)
            assert archive.stdout is not None
            untar = subprocess.run(["tar", "-x", "-C", work_dir], stdin=archive.stdout)
            archive.stdout.close()
            if archive.wait() != 0 or untar.returncode != 0:
                raise RuntimeError(f"git archive {self.commit[:12]} | tar -x failed")
            # The benchmarks come from this tree: the old ones must not
            # shadow them from the working directory.
            shutil.rmtree(os.path.join(work_dir, "benchmarks"), ignore_errors=True)
            with open(os.path.join(work_dir, "build.log"), "wb") as log:
                built = subprocess.run([PY, "setup.py", "build_ext", "--inplace"], cwd=work_dir,
                                       stdout=log, stderr=subprocess.STDOUT)
            if built.returncode != 0:
                with open(os.path.join(work_dir, "build.log"), errors="replace") as log:
                    tail = log.read()[-400:].strip()
                raise RuntimeError(f"building {self.ref} ({self.commit[:12]}) failed "
                                   f"(needs Cython and setuptools in this venv): {tail}")
            try:
                os.rename(work_dir, target)     # complete, or not there at all
            except OSError:
                if not os.path.isdir(target):   # else another run built it meanwhile
                    raise
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        return target

    def version(self) -> str:
        if self.ready() is not None:
            return "not built"
        version = self.features().get("version", "?")
        if self.ref is None:
            head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True).stdout.strip()
            return f"{version} ({head or 'no git'})"
        return f"{version} ({self.ref} = {self.commit[:10]})"


THIS_TREE = Build()


class Fastcore(Peer):
    """fastcore as a peer: its own app (apps/fastcore_app.py) by default,
    `fastcore run MODULE:APP [flags]` where a scenario or variant needs the
    command line (WSGI apps, --workers, --threads)."""

    kinds = frozenset({"hello", "echo", "static", "stream", "wsgi", "flask", "cpu", "sleep"})

    def __init__(self, name: str = "fastcore", label: str = "fastcore (this tree)",
                 build: Build = THIS_TREE, flags: tuple[str, ...] = (),
                 kinds: frozenset[str] | None = None, only: frozenset[str] | None = None,
                 pinned: bool = True, stream_as_file: bool = False) -> None:
        self.name, self.label, self.build, self.flags = name, label, build, flags
        self.kinds = kinds or self.kinds
        self.only, self.pinned, self.stream_as_file = only, pinned, stream_as_file
        self.ours = build.ref is None
        self.variant_of = None if name == "fastcore" or build.ref is not None else "fastcore"

    def missing(self) -> str | None:
        return self.build.ready()

    def _cli(self, scenario: Scenario) -> bool:
        return bool(self.flags) or scenario.kind in ("wsgi", "flask", "cpu", "sleep")

    def cannot(self, scenario: Scenario) -> str | None:
        has = self.build.features()
        where = "in this tree" if self.build.ref is None else f"at {self.build.ref}"
        if scenario.kind == "static" or (scenario.kind == "stream" and self.stream_as_file):
            if not has.get("static"):
                return f"fastcore.App has no static() {where}"
        elif scenario.kind == "stream" and not has.get("stream"):
            return f"fastcore has no Stream {where}: no streamed response bodies (issue 10)"
        if scenario.kind in ("wsgi", "flask"):
            if not has.get("wsgi"):
                return ('importlib.util.find_spec("fastcore.wsgi") is None '
                        f"{where}: no WSGI bridge (issue 10)")
            if not has.get("interface"):
                return f"`fastcore run --help` has no --interface {where} (issue 10)"
        if self._cli(scenario) and not has.get("run"):
            return f"fastcore has no `run` command {where}"
        for flag, issue in (("--workers", 11), ("--threads", 15)):
            if flag in self.flags and not has.get(flag[2:]):
                return f"`fastcore run --help` has no {flag} {where} (issue {issue})"
        return None

    def cwd(self) -> str:
        return self.build.root

    def command(self, port, docroot, workdir, scenario):
        if not self._cli(scenario):
            return ([PY, "-m", "benchmarks.apps.fastcore_app", str(port), docroot]
                    + (["--stream-as-file"] if self.stream_as_file else []))
        if scenario.kind in ("wsgi", "flask"):
            app = [WSGI_APPS[scenario.kind], "--interface", "wsgi"]
        else:
            app = ["benchmarks.apps.fastcore_app:app"]
        return [PY, "-m", "fastcore", "run", *app, "--host", "127.0.0.1", "--port", str(port),
                *self.flags]

    def version(self) -> str:
        return self.build.version()


@functools.cache
def baseline(ref: str) -> Fastcore:
    """fastcore built at git ref `ref`, as peer fastcore@REF: in every
    scenario the tree's fastcore runs, so tables show this tree against it.
    One per ref and process, so its build is asked for once."""
    return Fastcore(f"fastcore@{ref}", f"fastcore at {ref} (the baseline)", Build(ref))


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
    # echo only for the row that says why not; stream: the same bytes as a file.
    kinds = frozenset({"hello", "echo", "static", "stream"})

    def _binary(self) -> str | None:
        return shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)

    def missing(self) -> str | None:
        return None if self._binary() else "nginx is not installed (benchmarks/install-peers.sh)"

    def cannot(self, scenario):
        if scenario.kind == "echo":
            return "nginx cannot echo a request body without an upstream or extra module"
        return None

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
    label = "granian (RSGI or WSGI, 1 worker, single-threaded runtime, 1 blocking thread)"
    kinds = frozenset({"hello", "echo", "static", "wsgi", "flask"})

    def missing(self):
        return _modules_missing("granian")

    def command(self, port, docroot, workdir, scenario):
        wsgi = scenario.kind in ("wsgi", "flask")
        argv = [PY, "-m", "granian", "--interface", "wsgi" if wsgi else "rsgi", "--http", "1",
                "--workers", "1", "--runtime-mode", "st", "--runtime-threads", "1",
                # For WSGI the blocking threads run the app: one, as one core.
                "--blocking-threads", "1",
                "--no-ws", "--log-level", "warning", "--no-access-log",
                "--host", "127.0.0.1", "--port", str(port)]
        if wsgi:
            return argv + [WSGI_APPS[scenario.kind]]
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
    kinds = frozenset({"hello", "echo", "static", "wsgi", "flask"})

    def missing(self):
        return _modules_missing("bjoern")

    def command(self, port, docroot, workdir, scenario):
        argv = [PY, "-m", "benchmarks.apps.wsgi_app", str(port), docroot]
        return argv + ([WSGI_APPS["flask"]] if scenario.kind == "flask" else [])


class Gunicorn(Peer):
    name = "gunicorn"
    label = "gunicorn (sync worker, 1 worker: closes every connection)"
    kinds = frozenset({"wsgi", "flask"})
    worker = ["-k", "sync"]

    def missing(self):
        return _modules_missing("gunicorn")

    def command(self, port, docroot, workdir, scenario):
        return [PY, "-m", "gunicorn", "-w", "1", *self.worker, "-b", f"127.0.0.1:{port}",
                "--backlog", "1024", "--log-level", "warning", WSGI_APPS[scenario.kind]]

    def version(self):
        return _dist_version("gunicorn")


class GunicornThreads(Gunicorn):
    name = "gunicorn-gthread"
    label = "gunicorn (gthread worker, 1 worker, 32 threads)"
    kinds = frozenset({"sleep"})
    worker = ["-k", "gthread", "--threads", "32"]
    variant_of = "gunicorn"


class Waitress(Peer):
    name = "waitress"
    # Left at its defaults, as its users run it: 4 threads (--threads),
    # 100 connections, one process.
    label = "waitress (its defaults: 4 threads, 1 process)"
    kinds = frozenset({"wsgi", "flask"})

    def missing(self):
        return _modules_missing("waitress")

    def command(self, port, docroot, workdir, scenario):
        return [PY, "-m", "waitress", f"--listen=127.0.0.1:{port}", WSGI_APPS[scenario.kind]]


class HttpServer(Peer):
    name = "http.server"
    label = "http.server (ThreadingHTTPServer, stdlib)"

    def command(self, port, docroot, workdir, scenario):
        return [PY, "-m", "benchmarks.apps.httpserver_app", str(port), docroot]

    def version(self):
        return f"Python {sys.version.split()[0]}"


_THREADED = frozenset({"hello", "sleep10ms"})
PEERS: list[Peer] = [
    Fastcore(),
    # The same bytes as the stream, sent as a file (app.static, sendfile).
    Fastcore("fastcore-file", "fastcore, the stream's bytes as a static file",
             kinds=frozenset({"stream"}), stream_as_file=True),
    Fastcore("fastcore-w1", "fastcore run --workers 1 (a master and one worker)",
             flags=("--workers", "1"), kinds=frozenset({"cpu"})),
    # Two workers need both cores: not pinned, so they share one with wrk.
    Fastcore("fastcore-w2", "fastcore run --workers 2 (not pinned: both cores, one shared "
             "with wrk)", flags=("--workers", "2"), kinds=frozenset({"cpu"}), pinned=False),
    Fastcore("fastcore-t32", "fastcore run --threads 32 (handlers on 32 threads)",
             flags=("--threads", "32"), kinds=frozenset({"hello", "sleep"}), only=_THREADED),
    Fastcore("fastcore-t0", "fastcore run --threads 0 (handlers on the loop's thread)",
             flags=("--threads", "0"), kinds=frozenset({"hello", "sleep"}), only=_THREADED),
    CEpoll(), Nginx(), Uvicorn(), Granian(), Socketify(), Bjoern(), Gunicorn(),
    GunicornThreads(), Waitress(), HttpServer(),
]
BY_NAME = {p.name: p for p in PEERS}


def with_baseline(chosen: list[Peer], ref: str | None) -> list[Peer]:
    """`chosen` with fastcore@REF right after fastcore (measured next to it,
    so a drift of the machine hits both alike)."""
    if not ref:
        return chosen
    at = next((i + 1 for i, p in enumerate(chosen) if p.name == "fastcore"), 0)
    return chosen[:at] + [baseline(ref)] + chosen[at:]


def server_env(**extra: str) -> dict[str, str]:
    """The environment of every server: this tree's benchmarks importable
    from any working directory."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (REPO, os.environ.get("PYTHONPATH")) if p), PYTHONUNBUFFERED="1", **extra)


@functools.cache
def work_loop_count() -> int:
    """The cpu100us loop count, calibrated once here for every server (or
    FASTCORE_BENCH_WORK_N)."""
    return work.loop_count()


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

    workdir = tempfile.mkdtemp(prefix=f"fastcore-bench-{peer.name.replace('/', '_')}-")
    os.chmod(workdir, 0o755)
    port = _free_port()
    argv = peer.command(port, docroot, workdir, scenario)
    log = os.path.join(workdir, "server.log")
    env = server_env(FASTCORE_BENCH_DOCROOT=docroot,
                     FASTCORE_BENCH_WORK_N=str(work_loop_count()))
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=peer.cwd(), env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True,
                                   preexec_fn=cpus.pinner(cpus.SERVER_CPU if peer.pinned
                                                          else None))
    running = Running(peer, port, process, log)
    try:
        try:
            probe.wait_listening(port, running.alive)
        except RuntimeError as exc:
            raise RuntimeError(
                f"{peer.name} did not start: {exc}; log: {running.log_tail()}") from None
        yield running
    finally:
        stop_group(process)
        shutil.rmtree(workdir, ignore_errors=True)


def stop_group(process: subprocess.Popen) -> None:
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
