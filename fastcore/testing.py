"""A test client that sends requests through the real engine, in process.

    client = app.test_client()          # or fastcore.testing.Client(app)
    response = client.post("/login", data={"user": "ann"})
    assert response.status == 303 and "sid" in client.cookies

Each request is written as HTTP/1.1 bytes into one end of a socketpair
whose other end the app's own engine loop serves (``Loop.adopt``), in a
thread of its own: the same parser, limits, router, hooks and response
writer as a server on a port, and no port. The response is read back with
httptools' response parser. Between requests the connection is kept alive,
and a new one is made when the server closes it.

Also here: :func:`make_request`, a Request for unit-testing a handler
without any engine (the same as ``Request.build``).
"""

from __future__ import annotations

import json as json_module
import logging
import secrets
import socket
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import IO, Any, Unpack
from urllib.parse import quote, urlencode

from httptools import HttpResponseParser

from fastcore._core import Loop, Request
from fastcore._syntax import TOKEN
from fastcore.headers import Headers
from fastcore.limits import LimitOptions
from fastcore.responses import Fields, field_pairs

__all__ = ["Client", "TestResponse", "make_request"]

logger = logging.getLogger("fastcore")

# A file for `files=`: its content, or (filename, content[, content type]).
Content = bytes | str | IO[bytes]
FileSpec = Content | tuple[str, Content] | tuple[str, Content, str]
FormData = Mapping[str, str] | Iterable[tuple[str, str]]

# RFC 3986 section 2: what may stay as it is in a request target; the rest
# is percent-encoded (UTF-8), so that client.get("/café") works.
_TARGET_SAFE = "!#$%&'()*+,-./:;=?@[]_~"


def make_request(method: str = "GET", target: str = "/",
                 headers: Fields | None = None, body: bytes | str = b"", *,
                 version: str = "1.1", client: tuple[str, int] | None = None,
                 scheme: str | None = None,
                 params: Mapping[str, str] | None = None) -> Request:
    """A Request as the server would hand it to a handler, built without
    a server, for calling a handler directly in a unit test (also
    ``Request.build``). `headers` is a mapping or (name, value) pairs;
    `body` bytes or str (UTF-8); `client` the peer's (host, port);
    `params` the path parameters a route would have matched. Nothing is
    checked against the limits, and nothing is parsed until read."""
    if not isinstance(method, str) or not TOKEN.fullmatch(method):
        raise ValueError(f"invalid method {method!r}")
    if not isinstance(target, str) or not target or " " in target:
        raise ValueError(f"invalid request target {target!r}")
    if version not in ("1.0", "1.1"):
        raise ValueError(f"version is '1.0' or '1.1', not {version!r}")
    raw: list[bytes] = []
    for name, value in field_pairs(headers):
        raw += (name.encode("latin-1"), value.encode("latin-1"))
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return Request._assemble(method.encode("ascii"), target.encode("latin-1"), raw, data,
                             11 if version == "1.1" else 10, client, scheme,
                             dict(params) if params is not None else None)


class TestResponse:
    """What the client received: ``status``, ``reason``, ``headers`` (a
    case-insensitive :class:`fastcore.Headers`), ``body`` (bytes),
    ``text`` (the body as UTF-8), ``json()`` and ``cookies`` (the cookies
    this response set, name to value)."""

    __test__ = False                    # not a pytest test class

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]],
                 body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = Headers(headers)
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json_module.loads(self.body)

    @property
    def cookies(self) -> dict[str, str]:
        return {name: value for name, value, _ in
                (_parse_set_cookie(v) for v in self.headers.get_all("set-cookie"))}

    def __repr__(self) -> str:
        return f"<TestResponse {self.status} {len(self.body)} bytes>"


class Client:
    """Send requests to `app` through its real engine, without a port.

    ``Client(app, **limits)`` (limits as for ``Server``); ``request(method,
    path, ...)`` or ``get``/``post``/``put``/``patch``/``delete``/
    ``head``/``options``, each returning a :class:`TestResponse`.
    ``query`` adds to the path's query; ``headers`` is a mapping or pairs;
    the body is ``data`` (bytes or str as they are; a mapping or pairs
    form-encoded), ``json`` (sent as JSON) or ``files`` (with ``data``'s
    fields, as multipart/form-data). ``cookies`` holds every cookie the app
    has set (a plain jar: names to values, without path or domain
    scoping; a cookie deleted with Max-Age=0 or a past Expires is
    removed), sent back with each request. Handlers see ``request.client``
    as `client` and ``request.host`` as `host`.

    Make it once the app's routes and hooks are registered (the engine
    takes its route table when the client starts), and use it from one
    thread at a time. ``close()`` (or leaving a ``with`` block) stops the
    engine's thread. An exception in a handler is
    answered 500 and logged, as by a server.
    """

    __test__ = False                    # not a pytest test class

    def __init__(self, app: Any, *, host: str = "testserver",
                 client: tuple[str, int] = ("127.0.0.1", 50000), timeout: float = 10.0,
                 **limits: Unpack[LimitOptions]) -> None:
        self.app = app
        self.host = host
        self.client = client
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.limits = app.limits.replace(**limits)
        self._loop = Loop(-1, app.engine_routes(), app.dispatch, self.limits, logger, 5.0,
                          app.inline_handlers())
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="fastcore:test-client",
                                        daemon=True)
        self._thread.start()
        self._sock: socket.socket | None = None

    def _serve(self) -> None:
        try:
            self._loop.run()
        except BaseException as exc:                # reported by the next request
            self._error = exc
            logger.exception("the test client's engine loop failed")

    # -- requests -------------------------------------------------------------

    def request(self, method: str, path: str, *,
                query: FormData | None = None,
                headers: Fields | None = None,
                data: bytes | str | FormData | None = None,
                json: Any = None,
                files: Mapping[str, FileSpec] | None = None) -> TestResponse:
        """Send one request and return the response."""
        target = quote(path, safe=_TARGET_SAFE)
        if query:
            target += ("&" if "?" in target else "?") + urlencode(list(field_pairs(query)))
        fields = list(field_pairs(headers))
        given = {name.lower() for name, _ in fields}
        body, content_type = _encode_body(data, json, files)
        if content_type is not None and "content-type" not in given:
            fields.append(("Content-Type", content_type))
        if "host" not in given:
            fields.insert(0, ("Host", self.host))
        if self.cookies and "cookie" not in given:
            fields.append(("Cookie", "; ".join(f"{n}={v}" for n, v in self.cookies.items())))
        if (body or method.upper() in ("POST", "PUT", "PATCH")) and not (
                given & {"content-length", "transfer-encoding"}):
            fields.append(("Content-Length", str(len(body))))
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in fields) + "\r\n"
        response = self._exchange(head.encode("latin-1") + body, method.upper() == "HEAD")
        for value in response.headers.get_all("set-cookie"):
            name, value, expired = _parse_set_cookie(value)
            if expired:
                self.cookies.pop(name, None)
            elif name:
                self.cookies[name] = value
        return response

    def get(self, path: str, **options: Any) -> TestResponse:
        return self.request("GET", path, **options)

    def head(self, path: str, **options: Any) -> TestResponse:
        return self.request("HEAD", path, **options)

    def post(self, path: str, **options: Any) -> TestResponse:
        return self.request("POST", path, **options)

    def put(self, path: str, **options: Any) -> TestResponse:
        return self.request("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> TestResponse:
        return self.request("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> TestResponse:
        return self.request("DELETE", path, **options)

    def options(self, path: str, **options: Any) -> TestResponse:
        return self.request("OPTIONS", path, **options)

    # -- the connection -------------------------------------------------------

    def _connect(self) -> socket.socket:
        if self._error is not None:
            raise RuntimeError("the test client's engine loop failed") from self._error
        if self._sock is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            theirs.setblocking(False)
            try:
                self._loop.adopt(theirs.fileno(), self.client)
            except BaseException:
                ours.close()
                theirs.close()
                raise
            theirs.detach()                     # the loop owns it now
            ours.settimeout(self.timeout)
            self._sock = ours
        return self._sock

    def _disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _exchange(self, data: bytes, head_only: bool) -> TestResponse:
        reused = self._sock is not None
        try:
            return self._send_and_read(data, head_only)
        except _NothingReceived:
            if not reused:
                raise ConnectionError("the server closed the connection without "
                                      "answering") from None
        # The kept-alive connection had been closed (its timeout): once
        # more, on a new one.
        try:
            return self._send_and_read(data, head_only)
        except _NothingReceived:
            raise ConnectionError("the server closed the connection without "
                                  "answering") from None

    def _send_and_read(self, data: bytes, head_only: bool) -> TestResponse:
        sock = self._connect()
        reader = _ResponseReader(head_only)
        parser = reader.parser = HttpResponseParser(reader)
        received = False
        try:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass        # it may have answered early (413) and closed: read on
            while not reader.done:
                try:
                    chunk = sock.recv(256 * 1024)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    if not received:
                        raise _NothingReceived()
                    raise ConnectionError(
                        "the server closed the connection before the response ended")
                received = True
                parser.feed_data(chunk)
        except TimeoutError:
            self._disconnect()
            raise TimeoutError(f"no response within {self.timeout} s "
                               "(is a handler blocked?)") from None
        except BaseException:
            self._disconnect()
            raise
        response = TestResponse(parser.get_status_code(), reader.reason, reader.headers,
                                b"".join(reader.body))
        if not reader.keep_alive:
            self._disconnect()
        return response

    # -- stopping -------------------------------------------------------------

    def close(self) -> None:
        """Close the connection and stop the engine's thread."""
        self._disconnect()
        if self._thread.is_alive():
            self._loop.request_stop(1.0)
            self._thread.join(10.0)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class _NothingReceived(Exception):
    """The connection ended before a byte of the response arrived."""


class _ResponseReader:
    """The httptools protocol object for one response (interim 1xx
    responses are skipped)."""

    def __init__(self, head_only: bool) -> None:
        self.head_only = head_only
        self.reason = ""
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.done = False
        self.interim = False
        self.parser: Any = None
        self.keep_alive = False

    def on_status(self, status: bytes) -> None:
        self.reason = status.decode("latin-1")
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        # Asked here: once the message is complete, llhttp has reset.
        self.keep_alive = self.parser.should_keep_alive()
        self.interim = self.parser.get_status_code() < 200
        if self.head_only and not self.interim:
            self.done = True                    # HEAD: the fields only

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if not self.head_only and not self.interim:
            self.done = True


def _parse_set_cookie(value: str) -> tuple[str, str, bool]:
    # (name, value, expired) of a Set-Cookie field, as a user agent reads
    # it (RFC 6265 section 5.2), for the jar.
    import email.utils
    import time

    pair, *attributes = value.split(";")
    name, _, text = pair.partition("=")
    expired = False
    for attribute in attributes:
        key, _, argument = attribute.strip().partition("=")
        key = key.lower()
        if key == "max-age" and argument.strip().lstrip("-").isdigit():
            expired = int(argument) <= 0
        elif key == "expires" and not expired:
            try:
                when = email.utils.parsedate_to_datetime(argument.strip())
            except (TypeError, ValueError):
                continue
            expired = when.timestamp() <= time.time()
    return name.strip(), text.strip(), expired


def _content_bytes(content: Content) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    return content.read()


def _encode_body(data: bytes | str | FormData | None, json: Any,
                 files: Mapping[str, FileSpec] | None) -> tuple[bytes, str | None]:
    """(body, Content-Type) for the client's keyword arguments."""
    if json is not None:
        if data is not None or files:
            raise ValueError("give json= alone, without data= or files=")
        return json_module.dumps(json).encode("utf-8"), "application/json"
    if files:
        if isinstance(data, (bytes, str)):
            raise ValueError("with files=, data= is a mapping of form fields")
        return _multipart(field_pairs(data) if data is not None else (), files)
    if data is None:
        return b"", None
    if isinstance(data, bytes):
        return data, None
    if isinstance(data, str):
        return data.encode("utf-8"), None
    return (urlencode(list(field_pairs(data))).encode("ascii"),
            "application/x-www-form-urlencoded")


def _multipart(fields: Iterable[tuple[str, str]],
               files: Mapping[str, FileSpec]) -> tuple[bytes, str]:
    # A multipart/form-data body as browsers write it (RFC 7578; names and
    # filenames quoted with %22 for '"', per the HTML standard).
    boundary = "fastcore-" + secrets.token_hex(12)

    def quoted(text: str) -> str:
        return (text.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22"))

    parts = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; '
                     f'name="{quoted(name)}"\r\n\r\n'.encode("utf-8")
                     + value.encode("utf-8") + b"\r\n")
    for name, spec in files.items():
        if isinstance(spec, tuple):
            filename, content = spec[0], spec[1]
            kind = spec[2] if len(spec) > 2 else "application/octet-stream"
        else:
            filename, content, kind = name, spec, "application/octet-stream"
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{quoted(name)}"; '
                     f'filename="{quoted(filename)}"\r\nContent-Type: {kind}\r\n\r\n'
                     .encode("utf-8") + _content_bytes(content) + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
