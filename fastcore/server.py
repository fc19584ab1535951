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

from fastcore._core import AccessLog, Loop, Probe, install_access_log
from fastcore.limits import LimitOptions
from fastcore.responses import Response

if TYPE_CHECKING:
    from fastcore.app import App
    from fastcore.proxy import ProxyConfig
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


def _name_the_address(error: BaseException, host: str, port: int) -> None:
    # "[Errno 98] Address already in use" alone does not say which one.
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise OSError(errno.EADDRINUSE, f"{os.strerror(errno.EADDRINUSE)}: {where}") from None


class Server:
    """Serve `app` on `host`:`port` (port 0 picks a free port): a fastcore
    App, or any WSGI application (Flask, Django, ...).

    Embedded, in a background thread::

        with Server(app, port=0) as server:
            urlopen(server.url)

    or in the calling thread with :meth:`serve_forever`. A Server serves
    once: after a stop, start() raises RuntimeError; make a new one (the
    same app may be served again). Keyword arguments
    other than `sock` override the app's limits. `sock`, a bound socket,
    replaces host and port; the server takes it over and closes it.

    Behind a proxy (see fastcore.proxy): `proxy_headers` believes
    X-Forwarded-For/-Proto/-Host and Forwarded from peers in
    `forwarded_allow_ips` (addresses, CIDR ranges or "*"; default
    $FORWARDED_ALLOW_IPS, else "127.0.0.1,::1"). `proxy_protocol` ("v1",
    "v2" or "auto") expects a PROXY protocol header from peers in
    `proxy_allow_from` (default "127.0.0.1,::1").
    """

    def __init__(self, app: App | WSGIApplication, host: str = "127.0.0.1", port: int = 8081, *,
                 sock: socket.socket | None = None,
                 shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
                 proxy_headers: bool = False,
                 forwarded_allow_ips: str | Iterable[str] | None = None,
                 proxy_protocol: str = "off",
                 proxy_allow_from: str | Iterable[str] | None = None,
                 shutdown_delay: float = DEFAULT_SHUTDOWN_DELAY,
                 health_path: str | None = None, ready_path: str | None = None,
                 access_log: bool = False, access_log_format: str = "combined",
                 **limits: Unpack[LimitOptions]) -> None:
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"a port is an int, not {port!r}")
        if not 0 <= port <= 65535:
            # getaddrinfo would take 70000 as 70000 % 65536 and bind 4464.
            raise ValueError(f"port {port} is not in 0-65535")
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
        self._probes = _probes(health_path, ready_path)
        self._ready = self._probes.get(ready_path) if ready_path is not None else None
        self._access = AccessLog(access_log, access_log_format) if access_log else None
        self._delay: threading.Timer | None = None
        self._sock = sock
        self._loop: Loop | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()          # set when the loop has returned
        self.stopping = False                   # stop() has been asked for
        self.error: BaseException | None = None

    # -- the listening socket -----------------------------------------------

    def listen(self) -> None:
        """Bind and listen now, so that ``port`` and ``url`` are known
        before serving; start() and serve_forever() do it if needed."""
        if self._done.is_set():
            raise RuntimeError(_STOPPED)
        if self._loop is not None:
            return
        sock = self._sock
        if sock is None:
            family, kind, proto, _, address = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM,
                flags=socket.AI_PASSIVE)[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(address)
            except BaseException as exc:
                sock.close()
                _name_the_address(exc, self.host, self.port)
                raise
        try:
            try:
                sock.listen(self.limits.backlog)
            except OSError as exc:
                _name_the_address(exc, self.host, self.port)
                raise
            # Accepted sockets inherit TCP_NODELAY: a response's last segment
            # must not wait for the client's delayed ACK.
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            self.host, self.port = sock.getsockname()[:2]
            routes: dict[bytes, dict[bytes, Any]] = self.app.engine_routes()
            if self._probes:
                # Ahead of any route of the app's at the same path.
                routes = dict(routes)
                for path, probe in self._probes.items():
                    routes[path.encode("ascii")] = {b"GET": probe, b"HEAD": probe}
            self._loop = Loop(sock.fileno(), routes, self.app.dispatch, self.limits,
                              logger, self.shutdown_timeout, self.app.inline_handlers(),
                              self.proxy)
            if self._access is not None:
                install_access_log(self._loop, self._access)
        except BaseException:
            sock.close()
            raise
        sock.detach()                   # the loop owns the descriptor now
        self._sock = None

    @property
    def url(self) -> str:
        """``http://host:port/`` of the listening socket."""
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

    def drain(self, delay: float | None = None, timeout: float | None = None) -> None:
        """Begin a graceful shutdown and return at once (safe from a signal
        handler and from any thread; what SIGTERM does). The readiness path
        answers 503 from now on; new connections are still accepted and
        served for `delay` seconds (default: ``shutdown_delay``), the time
        a load balancer takes to stop sending new ones; then the listening
        socket closes, keep-alive responses say ``Connection: close``, and
        the requests already accepted are answered within `timeout` seconds
        (default: ``shutdown_timeout``). serve_forever() returns, and the
        thread start() began ends, when the drain is done."""
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
            loop.request_stop(timeout)
            return
        self._delay = threading.Timer(delay, loop.request_stop, (timeout,))
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
        (a second one stops at once). `ready` is called once the socket
        listens and the signal handlers are in place."""
        self._claim()
        self.listen()
        assert self._loop is not None
        loop = self._loop
        previous: dict[signal.Signals, Any] = {}
        signals = 0

        def on_signal(number: int, frame: Any) -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                self.drain()
            else:
                self._cancel_delay()
                loop.request_stop(0.0)          # a second one: stop now

        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                previous[number] = signal.signal(number, on_signal)
        try:
            if ready is not None:
                ready()
            loop.run()
        finally:
            self._cancel_delay()
            self._done.set()
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
