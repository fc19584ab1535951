"""Type stubs for the compiled engine, ``fastcore._core`` (built from
_core.pyx and the .pyx parts it includes).

They describe what Python code sees: the ``Request`` a handler receives and
the ``Loop`` that ``fastcore.server.Server`` drives. The engine's other
classes (connections, file entries) never reach Python code and are not
described. tests/test_typing.py checks these stubs against the built module
with mypy's stubtest, so a change to the engine's Python-visible surface
must be reflected here.
"""

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, final

from fastcore.forms import MultiDict, UploadFile
from fastcore.headers import Headers
from fastcore.limits import Limits
from fastcore.proxy import ProxyConfig

@final
class Request:
    """One HTTP request, as the handler sees it. Created by the server
    (calling ``Request()`` raises TypeError), or for a test by
    ``Request.build(...)``."""

    @staticmethod
    def build(
        method: str = "GET",
        target: str = "/",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes | str = b"",
        *,
        version: str = "1.1",
        client: tuple[str, int] | None = None,
        scheme: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Request:
        """A Request as the server would hand it to a handler, without a
        server: for unit tests of handlers (``fastcore.testing.make_request``)."""
    @staticmethod
    def _assemble(method: bytes, target: bytes, raw_headers: list[bytes], body: bytes,
                  version: int, client: tuple[str, int] | None, scheme: str | None,
                  params: dict[str, str] | None) -> Request: ...

    @property
    def method(self) -> str:
        """The method, e.g. ``"GET"``."""
    @property
    def target(self) -> str:
        """The raw request target, as sent (ISO-8859-1)."""
    @property
    def path(self) -> str:
        """The target's path, percent-decoded (UTF-8, invalid sequences
        replaced)."""
    @property
    def query(self) -> str:
        """The raw query string, without the ``?``; empty if none."""
    @property
    def args(self) -> MultiDict[str]:
        """The query decoded: ``args["q"]``, ``args.get("q")``,
        ``args.get_all("tag")``."""
    @property
    def form(self) -> MultiDict[str]:
        """The fields of a urlencoded or multipart/form-data body (empty
        for another type); HTTPError 400/413/415 if it cannot be read."""
    @property
    def files(self) -> MultiDict[UploadFile]:
        """The files of a multipart/form-data body."""
    @property
    def cookies(self) -> dict[str, str]:
        """The cookies the client sent (RFC 6265), name to value."""
    @property
    def scheme(self) -> str:
        """``"http"``, or what a trusted proxy said."""
    @property
    def host(self) -> str:
        """The host (and port) the client asked for: the Host field, or the
        authority of an absolute-form target."""
    @property
    def url(self) -> str:
        """The full URL: scheme, host, path and query as sent."""
    @property
    def headers(self) -> Headers:
        """The header fields: case-insensitive, multi-valued."""
    @property
    def body(self) -> bytes:
        """The whole request body; empty if none."""
    @property
    def params(self) -> dict[str, str]:
        """The path parameters the route matched (``{name}``)."""
    @property
    def client(self) -> tuple[str, int] | None:
        """The peer's (host, port); None for a socket that is not IPv4 or
        IPv6 (a Unix socket handed over with ``Server(sock=...)``)."""
    @property
    def version(self) -> str:
        """``"1.0"`` or ``"1.1"``."""
    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after this request."""
    # Set by the router (App.dispatch); read ``params`` instead.
    _params: dict[str, str] | None
    def json(self) -> Any:
        """The body parsed as JSON; HTTPError(400) if it is not JSON or its
        Content-Type is not application/json (or +json)."""

_Handler = Callable[[Any], Any]

BOARD_SLOT_SIZE: int

@final
class Loop:
    """The engine behind a Server: call run() in the thread that serves, and
    request_stop() from any thread."""

    def __init__(
        self,
        listen_fds: int | list[int],
        routes: dict[bytes, dict[bytes, _Handler]],
        fallback: _Handler,
        limits: Limits,
        logger: logging.Logger,
        stop_timeout: float = ...,
        inline: Iterable[_Handler] = ...,
        *,
        proxy: ProxyConfig | None = ...,
        shared: bool = ...,
        board: memoryview | bytearray | None = ...,
        slot: int = ...,
        max_requests: int = ...,
    ) -> None: ...
    def adopt(self, fd: int, client: tuple[str, int] | None = None) -> None:
        """Serve a connected non-blocking stream socket as if accepted; the
        loop owns `fd` from here on. Safe from any thread."""
    def request_stop(self, timeout: float | None = None, backlog: bool = True) -> None:
        """Begin a graceful stop; safe from any thread, from signal handlers
        and from a handler. With `backlog` false the listen backlog is left
        to the other workers sharing the sockets."""
    def in_loop_thread(self) -> bool:
        """Whether the calling thread is the one running this loop."""
    def run(self) -> None:
        """Serve until request_stop() has been called and the drain is
        done; RuntimeError if it is already running or has stopped."""
    @property
    def connections(self) -> int:
        """The number of open client connections."""
    @property
    def n_conns(self) -> int: ...
    @property
    def requests(self) -> int:
        """Requests read so far."""
    @property
    def routes(self) -> dict[bytes, dict[bytes, _Handler]]: ...
    @property
    def running(self) -> bool: ...
    @property
    def draining(self) -> bool: ...
    @property
    def proxy(self) -> ProxyConfig | None:
        """What the loop believes from proxies (Server's proxy keywords)."""
    @property
    def handler_threads(self) -> int:
        """The handler pool's threads that are alive (0 without a pool)."""
    @property
    def forced_closes(self) -> int:
        """Connections reset because the stop's timeout passed."""


class AccessLog:
    """Whether a loop logs each response through the fastcore.access
    logger, and in which format ("combined" or "json")."""

    def __init__(self, on: bool = False, format: str = "combined") -> None: ...
    @property
    def on(self) -> bool: ...


def install_access_log(loop: Loop, log: AccessLog) -> None:
    """Log the responses of `loop` with `log` from now on (before it runs)."""


class Probe:
    """A health (liveness) or, with a failing answer, readiness path that
    the engine answers itself."""

    def __init__(self, ok_head: bytes, ok_body: bytes, failing_head: bytes | None = None,
                 failing_body: bytes | None = None) -> None: ...
    def fail(self) -> None:
        """From now on a readiness probe answers 503 (any thread)."""
    @property
    def serving(self) -> bool: ...
