"""Shared fixtures: a real server on 127.0.0.1 (port 0) and clients that
talk to it over real sockets, including a raw one for malformed bytes."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

import fastcore

def require_tool(name: str) -> str:
    """The path of an external tool the test drives. Missing, the test is
    skipped, except under CI (FASTCORE_CI=1), where that is a failure."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("FASTCORE_CI") == "1":
            pytest.fail(f"{name} is required under CI but is not installed")
        pytest.skip(f"{name} is not installed")
    return path


def require_module(name: str):
    """Import a Python module the test needs, with the same rule as
    require_tool: skipped when missing, a failure under CI."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("FASTCORE_CI") == "1":
            pytest.fail(f"{name} is required under CI but is not installed")
        pytest.skip(f"{name} is not installed")


# How long a test waits for the server before declaring it hung. Never a
# synchronisation sleep: every wait below returns as soon as bytes arrive.
WAIT = 10.0


@contextlib.contextmanager
def serving(app: fastcore.App, **limits: float) -> Iterator[fastcore.Server]:
    server = fastcore.Server(app, "127.0.0.1", 0, **limits)
    server.start()
    try:
        yield server
    finally:
        assert server.stop(5.0), "the server did not stop in time"
        assert server.error is None, f"the server loop failed: {server.error!r}"


@pytest.fixture
def serve() -> Callable[..., contextlib.AbstractContextManager[fastcore.Server]]:
    """``with serve(app, **limits) as server:`` starts and stops a server."""
    return serving


def hello_app(**limits: float) -> fastcore.App:
    app = fastcore.App(**limits)

    @app.route("/")
    def index(request):
        return b"<h1>Hello, World!</h1>"

    @app.route("/echo", methods=["GET", "POST", "PUT"])
    def echo(request):
        return fastcore.Response(request.body, content_type="application/octet-stream")

    @app.route("/boom")
    def boom(request):
        raise RuntimeError("boom")

    return app


@pytest.fixture
def server() -> Iterator[fastcore.Server]:
    """A server running hello_app() with default limits."""
    with serving(hello_app()) as running:
        yield running


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    version: str = "HTTP/1.1"
    informational: list[int] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class RawClient:
    """A socket that sends exactly the bytes given and parses responses
    itself, so tests can send malformed or pipelined requests and see
    whether the server closed the connection."""

    def __init__(self, port: int, timeout: float = WAIT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise EOFError("connection closed in a response head")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise EOFError("connection closed in a response body")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def response(self, head: bool = False) -> RawResponse:
        """Read one response (skipping 1xx, which are recorded). With
        head=True the body is not read (a response to HEAD)."""
        informational = []
        while True:
            version, status, *rest = self._line().decode("latin-1").split(" ", 2)
            headers = []
            while (line := self._line()):
                name, _, value = line.decode("latin-1").partition(":")
                headers.append((name, value.strip()))
            if 100 <= int(status) < 200:
                informational.append(int(status))
                continue
            response = RawResponse(int(status), rest[0] if rest else "", headers,
                                   b"", version, informational)
            length = response.header("content-length")
            if not head and length is not None:
                response.body = self._exactly(int(length))
            return response

    def closed(self) -> bool:
        """True when the server has closed the connection (EOF or reset);
        waits up to the socket timeout. The client then closes its side
        too, so that a server lingering on the connection can let go."""
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            pass
        except TimeoutError:
            return False
        self.sock.close()
        return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw() -> Iterator[Callable[[int], RawClient]]:
    """``raw(port)`` opens a RawClient, closed at the end of the test."""
    clients: list[RawClient] = []

    def connect(port: int, timeout: float = WAIT) -> RawClient:
        client = RawClient(port, timeout)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def request_bytes(method: str = "GET", path: str = "/", *,
                  headers: list[tuple[str, str]] | None = None, body: bytes = b"",
                  version: str = "1.1", host: str | None = "x") -> bytes:
    """A well-formed request; Content-Length is added when there is a body."""
    lines = [f"{method} {path} HTTP/{version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
