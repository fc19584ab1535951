"""Serving an App: the listening socket, the engine's loop, the thread it runs
in, signals, and a graceful stop."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Unpack

from fastcore import listeners, sdnotify
from fastcore._core import AccessLog, Loop, Probe, install_access_log
from fastcore.limits import LimitOptions
from fastcore.listeners import DEFAULT_UDS_MODE, Bind, check_port
from fastcore.responses import Response

if TYPE_CHECKING:
    from fastcore.app import App
    from fastcore.proxy import ProxyConfig
    from fastcore.supervisor import Supervision
    from fastcore.wsgi import WSGIApplication

__all__ = ["Server"]

logger = logging.getLogger("fastcore")

DEFAULT_SHUTDOWN_TIMEOUT = 10.0
# Seconds a drain keeps accepting after readiness fails: 0, as gunicorn and
# uvicorn have none; on Kubernetes, the time an endpoint takes to drop a
# terminating pod (a few seconds; see deploy/kubernetes/).
DEFAULT_SHUTDOWN_DELAY = 0.0
# Its loop and listening socket are gone with the stop.
_STOPPED = ("this server has stopped, and a stopped Server cannot be started again: "
            "make a new Server(app, ...)")


def refuse_threads(workers: int) -> None:
    """Forking a process that runs other threads is unsafe (a lock one of
    them holds stays locked forever in the child): workers are for the CLI
    and for app.run() in a program's main thread."""
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if others:
        raise RuntimeError(
            f"Server(app, workers={workers}) forks worker processes, which is unsafe in "
            f"a process that runs other threads ({', '.join(others)}): use "
            "`fastcore run -w N MODULE:APP` or app.run(workers=N) from a program that "
            "has not started threads, or serve in this process without workers")


class Server:
    """Serve `app` on `host`:`port` (port 0 picks a free port): a fastcore
    App, or any WSGI application (Flask, Django, ...).

    Embedded, in a background thread::

        with Server(app, port=0) as server:
            urlopen(server.url)

    or in the calling thread with :meth:`serve_forever`. A Server serves
    once: after a stop, start() raises RuntimeError; make a new one (the
    same app may be served again). Keyword arguments
    other than the addresses override the app's limits.

    Where it listens: `host` and `port`, unless one of these is given
    instead: `sock`, a bound socket (or a list of them), which the server
    takes over and closes; `uds`, the path of a Unix socket to make (mode
    `uds_mode`; a stale file is replaced only if nothing listens on it, and
    the file is removed when the server stops); `fd`, an inherited
    descriptor of a bound socket; `bind`, a list of ``--bind`` forms
    (``HOST:PORT``, ``[IPv6]:PORT``, ``unix:PATH``, ``fd://N``).

    `workers`: serve_forever() runs that many worker processes under a
    master (see fastcore.supervisor); refused in a process that runs
    other threads, where forking is unsafe.

    Behind a proxy (see fastcore.proxy): `proxy_headers` believes
    X-Forwarded-For/-Proto/-Host and Forwarded from peers in
    `forwarded_allow_ips` (addresses, CIDR ranges or "*"; default
    $FORWARDED_ALLOW_IPS, else "127.0.0.1,::1"). `proxy_protocol` ("v1",
    "v2" or "auto") expects a PROXY protocol header from peers in
    `proxy_allow_from` (default "127.0.0.1,::1").
    """

    def __init__(self, app: App | WSGIApplication, host: str = "127.0.0.1", port: int = 8081, *,
                 sock: socket.socket | list[socket.socket] | None = None,
                 uds: str | None = None, fd: int | None = None,
                 bind: list[str] | tuple[str, ...] = (), uds_mode: int = DEFAULT_UDS_MODE,
                 workers: int | None = None, supervision: Supervision | None = None,
                 shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
                 proxy_headers: bool = False,
                 forwarded_allow_ips: str | Iterable[str] | None = None,
                 proxy_protocol: str = "off",
                 proxy_allow_from: str | Iterable[str] | None = None,
                 shutdown_delay: float = DEFAULT_SHUTDOWN_DELAY,
                 health_path: str | None = None, ready_path: str | None = None,
                 access_log: bool = False, access_log_format: str = "combined",
                 **limits: Unpack[LimitOptions]) -> None:
        check_port(port)
        binds = [listeners.parse_bind(text) for text in bind]
        if uds is not None:
            binds.append(Bind("unix", path=os.fspath(uds)))
        if fd is not None:
            binds.append(Bind("fd", fd=fd))
        if not binds and sock is None:
            binds.append(Bind("tcp", host=host, port=port))
        if workers is not None:
            if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
                raise ValueError(f"workers is a number >= 1, not {workers!r}")
            refuse_threads(workers)
        self.workers = workers
        if not hasattr(app, "engine_routes"):
            # Not a fastcore App: a WSGI application (Flask, Django, ...).
            from fastcore.wsgi import WSGIApp

            app = WSGIApp(app)
        self.app = app
        self.limits = app.limits.replace(**limits)
        if self.limits.threads:
            app._serve_threaded()
        self.host = host
        self.port = port
        self.shutdown_timeout = shutdown_timeout
        self.proxy: ProxyConfig | None = None
        if proxy_headers or proxy_protocol != "off":
            # Imported only then: a server behind no proxy does not load it.
            from fastcore.proxy import ProxyConfig

            self.proxy = ProxyConfig.build(proxy_headers, forwarded_allow_ips,
                                           proxy_protocol, proxy_allow_from)
        if not shutdown_delay >= 0:
            raise ValueError(f"shutdown_delay is a number of seconds >= 0, not {shutdown_delay!r}")
        self.shutdown_delay = shutdown_delay
        # What each worker's own Server is made with (fastcore.worker).
        self.operations: dict[str, Any] = {
            "shutdown_delay": shutdown_delay, "health_path": health_path,
            "ready_path": ready_path, "access_log": access_log,
            "access_log_format": access_log_format, "proxy_headers": proxy_headers,
            "forwarded_allow_ips": forwarded_allow_ips, "proxy_protocol": proxy_protocol,
            "proxy_allow_from": proxy_allow_from}
        self._probes = _probes(health_path, ready_path)
        self._ready = self._probes.get(ready_path) if ready_path is not None else None
        self._access = AccessLog(access_log, access_log_format) if access_log else None
        self._delay: threading.Timer | None = None
        self.uds_mode = uds_mode
        self.binds = binds
        self.sockets: list[socket.socket] = (
            [] if sock is None else list(sock) if isinstance(sock, list) else [sock])
        self._uds_files: list[tuple[str, int]] = []     # made here: removed at the end
        self.supervision = supervision
        # What a worker process changes (fastcore.worker): see Loop, and
        # what each stop signal does.
        self._engine_options: dict[str, Any] = {}
        self._signal_actions: dict[int, str] = {
            signal.SIGINT: "graceful", signal.SIGTERM: "graceful", signal.SIGQUIT: "fast"}
        self._loop: Loop | None = None
        self.addresses: list[str] = []
        self._board: bytearray | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()          # set when the loop has returned
        self.stopping = False                   # stop() has been asked for
        self.error: BaseException | None = None

    # -- the listening socket -----------------------------------------------

    def open_sockets(self) -> list[socket.socket]:
        """Bind and listen on every address (once), and return the sockets;
        listen() then hands them to the engine. The master of workers calls
        this alone: its workers serve the sockets."""
        if self._done.is_set():
            raise RuntimeError(_STOPPED)
        try:
            while self.binds:
                bind = self.binds[0]
                sock = listeners.open_listener(bind, self.limits.backlog,
                                               uds_mode=self.uds_mode)
                self.sockets.append(sock)
                self.binds.pop(0)
                if bind.kind == "unix":
                    self._uds_files.append((bind.path, os.stat(bind.path).st_ino))
            for sock in self.sockets:
                try:
                    sock.listen(self.limits.backlog)
                except OSError as exc:
                    raise OSError(exc.errno, f"{exc.strerror}: {listeners.describe(sock)}"
                                  ) from None
                listeners.prepare(sock)
        except BaseException:
            self.close_sockets()
            raise
        tcp = [s for s in self.sockets if s.family != socket.AF_UNIX]
        if tcp:
            self.host, self.port = tcp[0].getsockname()[:2]
        return self.sockets

    def close_sockets(self) -> None:
        """Close the listening sockets not yet handed to the engine, and
        remove the Unix socket files this server made."""
        for sock in self.sockets:
            sock.close()
        self.sockets = []
        for path, inode in self._uds_files:
            listeners.remove_uds(path, inode)
        self._uds_files = []

    def listen(self) -> None:
        """Bind and listen now, so that ``port`` and ``url`` are known
        before serving; start() and serve_forever() do it if needed."""
        if self._done.is_set():
            raise RuntimeError(_STOPPED)
        if self._loop is not None:
            return
        sockets = self.open_sockets()
        self.addresses = [listeners.describe(sock) for sock in sockets]
        if "board" not in self._engine_options and sdnotify.watchdog_interval() is not None:
            # systemd's watchdog, without a master: the loop's ticks, in a
            # board of one slot, tell a thread whether to send WATCHDOG=1.
            self._board = bytearray(sdnotify.BOARD_SIZE)
            self._engine_options = {**self._engine_options, "board": self._board, "slot": 0}
        try:
            routes: dict[bytes, dict[bytes, Any]] = self.app.engine_routes()
            if self._probes:
                # Ahead of any route of the app's at the same path.
                routes = dict(routes)
                for path, probe in self._probes.items():
                    routes[path.encode("ascii")] = {b"GET": probe, b"HEAD": probe}
            self._loop = Loop([sock.fileno() for sock in sockets], routes,
                              self.app.dispatch, self.limits, logger,
                              self.shutdown_timeout, self.app.inline_handlers(),
                              proxy=self.proxy, **self._engine_options)
            if self._access is not None:
                install_access_log(self._loop, self._access)
        except BaseException:
            self.close_sockets()
            raise
        for sock in sockets:
            sock.detach()               # the loop owns the descriptors now
        self.sockets = []

    @property
    def url(self) -> str:
        """``http://host:port/`` of the (first TCP) listening socket, or
        ``unix:PATH`` when it listens on a Unix socket only."""
        if self.addresses and not any(a[0].isdigit() or a[0] == "[" for a in self.addresses):
            return self.addresses[0]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def connections(self) -> int:
        """Client connections open right now."""
        return self._loop.connections if self._loop is not None else 0

    # -- in a background thread ---------------------------------------------

    def _claim(self) -> None:
        # One loop serves in one thread, once.
        if self._done.is_set():
            raise RuntimeError(_STOPPED)
        if self._thread is not None or (self._loop is not None and self._loop.running):
            raise RuntimeError("this server is already serving")

    def start(self) -> Server:
        """Listen, then serve in a daemon thread; returns at once."""
        if self.workers is not None:
            raise RuntimeError("a Server with workers serves with serve_forever(), "
                               "in the main thread")
        self._claim()
        self.listen()
        self._thread = threading.Thread(
            target=self._serve, name=f"fastcore:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._loop is not None
        try:
            self._loop.run()
        except BaseException as exc:
            self.error = exc
            logger.exception("the server loop failed")
        finally:
            self._finish()

    def _finish(self) -> None:
        self.close_sockets()
        self._done.set()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop gracefully: close the listening socket, finish the requests
        already read, close idle connections. Returns True once every
        connection has closed by itself, False if `timeout` passed first
        (the rest are then reset). A handler that is still running when the
        timeout passes is not interrupted: stop() waits for it up to 5 s
        more, then returns False with the loop still running. Called from a
        handler, it begins the stop and returns False at once."""
        if self._loop is None:
            return True
        if timeout is None:
            timeout = self.shutdown_timeout
        self._cancel_delay()
        if self._ready is not None:
            self._ready.fail()
        self._loop.request_stop(timeout)
        self.stopping = True
        if self._loop.in_loop_thread():
            return False            # called by a handler: the drain has begun
        if self._thread is not None or self._loop.running:
            self._done.wait(timeout + 5.0)
        return not self._loop.running and self._loop.forced_closes == 0

    def drain(self, delay: float | None = None, timeout: float | None = None,
              backlog: bool = True) -> None:
        """Begin a graceful shutdown and return at once (safe from a signal
        handler and from any thread; what SIGTERM does). The readiness path
        answers 503 from now on; new connections are still accepted and
        served for `delay` seconds (default: ``shutdown_delay``), the time
        a load balancer takes to stop sending new ones; then the listening
        socket closes, keep-alive responses say ``Connection: close``, and
        the requests already accepted are answered within `timeout` seconds
        (default: ``shutdown_timeout``). With `backlog`, the connections
        waiting in the listen backlog are taken in first; a retiring worker
        leaves them to the others. serve_forever() returns, and the thread
        start() began ends, when the drain is done. The one graceful path:
        SIGTERM takes it in a single process and in each worker."""
        if delay is None:
            delay = self.shutdown_delay
        if timeout is None:
            timeout = self.shutdown_timeout
        if self._ready is not None:
            self._ready.fail()
        self.stopping = True
        loop = self._loop
        if loop is None or self._delay is not None:
            return
        if delay <= 0:
            loop.request_stop(timeout, backlog)
            return
        self._delay = threading.Timer(delay, loop.request_stop, (timeout, backlog))
        self._delay.daemon = True
        self._delay.start()

    def _cancel_delay(self) -> None:
        if self._delay is not None:
            self._delay.cancel()

    @property
    def ready(self) -> bool:
        """What the readiness path says: False from drain() or stop() on."""
        return self._ready is None or (self._ready.serving and not self.stopping)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # -- in this thread -----------------------------------------------------

    def serve_forever(self, ready: Callable[[], object] | None = None) -> None:
        """Serve in the calling thread until :meth:`stop` is called from
        another thread, or, in the main thread, until SIGINT or SIGTERM
        (a second one stops at once) or SIGQUIT (at once). `ready` is called once the socket
        listens and the signal handlers are in place. With `workers`, the
        calling process becomes their master (fastcore.supervisor) and
        returns once they have all stopped."""
        if self.workers is not None:
            from fastcore.supervisor import Supervisor
            Supervisor(self, self.supervision).run(ready)
            return
        self._claim()
        self.listen()
        assert self._loop is not None
        loop = self._loop
        previous: dict[signal.Signals, Any] = {}
        signals = 0

        def on_signal(number: int, frame: Any) -> None:
            nonlocal signals
            signals += 1
            action = self._signal_actions.get(number, "graceful")
            if signals > 1 or action == "fast":
                self._cancel_delay()
                loop.request_stop(0.0)
            else:
                sdnotify.notify("STOPPING=1")
                if action == "retire":
                    # A retiring worker leaves its backlog to the others.
                    self.drain(delay=0.0, backlog=False)
                else:
                    self.drain()

        if threading.current_thread() is threading.main_thread():
            for number in self._signal_actions:
                previous[number] = signal.signal(number, on_signal)
        watchdog = None
        try:
            if ready is not None:
                ready()
            sdnotify.notify("READY=1")
            if self._board is not None:
                watchdog = sdnotify.Watchdog(self._board)
                watchdog.start()
            loop.run()
        finally:
            self._cancel_delay()
            if watchdog is not None:
                watchdog.stop()
            self._finish()
            for number, handler in previous.items():
                signal.signal(number, handler)


def _probes(health_path: str | None, ready_path: str | None) -> dict[str, Probe]:
    # The paths the engine answers itself; each an exact, plain path.
    probes: dict[str, Probe] = {}
    for path, readiness in ((health_path, False), (ready_path, True)):
        if path is None:
            continue
        if (not isinstance(path, str) or not path.startswith("/") or not path.isascii()
                or any(c in path for c in "?#% ") or not path.isprintable()):
            raise ValueError(f"a health or readiness path is a plain path such as "
                             f"/healthz, not {path!r}")
        if path in probes:
            raise ValueError(f"the health and readiness paths are both {path!r}")
        fields = {"Cache-Control": "no-store"}
        ok = Response(b"ok\n", headers=fields, content_type="text/plain; charset=utf-8")
        if readiness:
            failing = Response(b"draining\n", 503, headers=fields,
                               content_type="text/plain; charset=utf-8")
            probes[path] = Probe(ok._head, ok._body, failing._head, failing._body)
        else:
            probes[path] = Probe(ok._head, ok._body)
    return probes
