"""WSGI (PEP 3333) on the fast core: Flask, Django, Bottle, Falcon and any
other WSGI application, unchanged.

``fastcore.Server(wsgi_app)`` and ``fastcore run module:app`` serve a WSGI
callable; ``app.mount("/legacy", wsgi_app)`` serves one under a prefix of a
fastcore ``App`` (SCRIPT_NAME is the prefix), beside native routes.

How a response goes out:

- The application's iterable is read up to its first non-empty chunk (so
  ``start_response`` may be called late, inside it) before anything is
  sent; an exception until then is a 500 with a logged traceback.
- A body that is complete by then (its declared Content-Length reached, or
  the iterable exhausted) goes out as one response; otherwise it streams
  (see fastcore.streams): with the application's Content-Length if it gave
  one (a body shorter or longer than that ends the connection), else
  chunked on HTTP/1.1 and delimited by the close on HTTP/1.0. An exception
  while it streams closes the connection.
- ``wsgi.file_wrapper`` around a regular file is sent with sendfile(2).
- The iterable's ``close()`` is always called: at the end, on an error,
  and when the client goes away.
- Hop-by-hop fields from the application (Connection, Transfer-Encoding,
  Keep-Alive, ...) are an error (PEP 3333), answered 500; Date and Server
  are the server's own. Header names and values are checked as for native
  responses.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from fastcore._core import wsgi_environ
from fastcore.app import App
from fastcore.limits import LimitOptions
from fastcore.responses import FileBody, Response, encode_fields
from fastcore.streams import Stream

if TYPE_CHECKING:
    from fastcore._core import Request

__all__ = ["FileWrapper", "WSGIApp", "WSGIHandler", "WSGIMount", "is_wsgi_app"]

logger = logging.getLogger("fastcore.wsgi")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]


class WSGIApplication(Protocol):
    def __call__(self, environ: dict[str, Any],
                 start_response: StartResponse) -> Iterable[bytes]: ...


# PEP 3333: "the application must not return hop-by-hop headers" (RFC 2616
# section 13.5.1 and the fields that frame a message).
_HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade"))
# Written by the engine for every response.
_SERVERS_OWN = frozenset(("date", "server"))


class _Errors:
    """``wsgi.errors``: what the application writes goes to the
    ``fastcore.wsgi`` logger, a line per record."""

    def __init__(self) -> None:
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line:
                logger.error("%s", line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._partial:
            logger.error("%s", self._partial)
            self._partial = ""


class FileWrapper:
    """``wsgi.file_wrapper``: a file the application returns. A regular
    file with a descriptor is sent with sendfile(2) from its current
    position; anything else is read in blocks of `block_size`."""

    def __init__(self, filelike: Any, block_size: int = 64 * 1024) -> None:
        self.filelike = filelike
        self.block_size = block_size
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        while True:
            block = read(self.block_size)
            if not block:
                return
            yield block

    def _file_range(self) -> tuple[int, int, int] | None:
        # (descriptor, position, bytes to its end) of a regular file.
        try:
            fd = self.filelike.fileno()
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            if hasattr(self.filelike, "tell"):
                position = self.filelike.tell()
            else:
                position = os.lseek(fd, 0, os.SEEK_CUR)
        except (AttributeError, OSError, ValueError):
            return None
        return fd, position, max(0, info.st_size - position)


class _Start:
    """The start_response of one request, and what it was given."""

    __slots__ = ("status", "head", "code", "length", "sent", "written")

    def __init__(self) -> None:
        self.head: bytes | None = None
        self.code = 0
        self.length: int | None = None
        self.sent = False                   # the head has gone to the engine
        self.written: list[bytes] = []      # from the write() callable

    def __call__(self, status: str, headers: list[tuple[str, str]],
                 exc_info: ExcInfo | None = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.sent:
                    # PEP 3333: too late to replace the response.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.head is not None:
            raise AssertionError("start_response was called twice without exc_info")
        self.head, self.code, self.length = _encode_head(status, headers)
        return self.write

    def write(self, data: bytes) -> None:
        if self.head is None:
            raise AssertionError("write() before start_response")
        if type(data) is not bytes:
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        if data:
            self.written.append(data)


def _encode_head(status: str, headers: list[tuple[str, str]]) -> tuple[bytes, int, int | None]:
    """The status line and fields of a WSGI response, checked, without the
    Content-Length (returned apart, as the body's declared length)."""
    if type(status) is not str:
        raise TypeError(f"a WSGI status is a str, not {type(status).__name__}")
    code_text, _, reason = status.partition(" ")
    if len(code_text) != 3 or not code_text.isdigit() or not code_text.isascii():
        raise ValueError(f"malformed WSGI status {status!r}")
    code = int(code_text)
    if code < 200 or code > 599 or not reason.isprintable() or not reason.isascii():
        raise ValueError(f"malformed WSGI status {status!r}")
    if type(headers) is not list:
        raise TypeError(f"WSGI headers are a list, not {type(headers).__name__}")
    length = None
    fields = []
    for pair in headers:
        if type(pair) is not tuple or len(pair) != 2:
            raise TypeError(f"a WSGI header is a (name, value) tuple, not {pair!r}")
        name, value = pair
        if type(name) is not str or type(value) is not str:
            raise TypeError(f"a WSGI header's name and value are str: {pair!r}")
        lower = name.lower()
        if lower == "content-length":
            value = value.strip()
            if not (value.isdigit() and value.isascii()) or (
                    length is not None and int(value) != length):
                raise ValueError(f"malformed Content-Length {value!r}")
            length = int(value)
        elif lower in _HOP_BY_HOP:
            raise ValueError(f"the application set the hop-by-hop header {name!r}")
        elif lower not in _SERVERS_OWN:
            fields.append((name, value))
    encoded = encode_fields(fields, None)
    return f"HTTP/1.1 {code_text} {reason}\r\n".encode("ascii") + encoded, code, length


class _Body:
    """A streamed WSGI body: what write() was given, the first chunk
    already read, then the rest of the iterable (write() data in between
    too, in order). Closing it closes the application's iterable."""

    __slots__ = ("_start", "_first", "_iterator", "_result")

    def __init__(self, start: _Start, first: bytes, iterator: Iterator[bytes],
                 result: Iterable[bytes]) -> None:
        self._start, self._first, self._iterator, self._result = (
            start, first, iterator, result)

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        written = self._start.written
        if written:
            return written.pop(0)
        first = self._first
        if first:
            self._first = b""
            return first
        chunk = next(self._iterator)
        if type(chunk) is not bytes:
            raise TypeError(f"a WSGI body yielded {type(chunk).__name__}, not bytes")
        return chunk

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            close()


def _close(result: object) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


class WSGIHandler:
    """A fastcore handler that runs a WSGI application: ``handler(request)``
    returns what the engine sends. `script_name` is the prefix it is
    mounted at ("" for the whole server)."""

    def __init__(self, app: WSGIApplication, script_name: str = "", *,
                 multithread: bool = False, multiprocess: bool = False) -> None:
        if not callable(app):
            raise TypeError(f"{app!r} is not a WSGI application (not callable)")
        self.app = app
        self.script_name = script_name.rstrip("/")
        # The keys that are the same for every request.
        self.base: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": _Errors(),
            "wsgi.multithread": multithread,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "0",
            "SERVER_SOFTWARE": "fastcore",
        }

    def __call__(self, request: Request) -> Response | Stream | FileBody:
        environ = wsgi_environ(request, self.base, self.script_name)
        start = _Start()
        result = self.app(environ, start)
        try:
            if isinstance(result, FileWrapper) and start.head is not None:
                sent = self._send_file(result, start)
                if sent is not None:
                    return sent
            if type(result) is list or type(result) is tuple:
                # The whole body at once (the commonest WSGI answer).
                if start.head is None:
                    raise RuntimeError("the WSGI application did not call start_response")
                start.sent = True
                return self._complete(start, b"".join(start.written + list(result)))
            iterator = iter(result)
            first = b""
            ended = False
            # Up to the first non-empty chunk: start_response may come late.
            while not first:
                try:
                    first = next(iterator)
                except StopIteration:
                    ended = True
                    break
                if type(first) is not bytes:
                    raise TypeError(
                        f"a WSGI body yielded {type(first).__name__}, not bytes")
            if start.head is None:
                raise RuntimeError("the WSGI application did not call start_response")
            start.sent = True
            written = start.written
            if not ended and start.length is not None and not written and len(first) >= start.length:
                ended = len(first) == start.length     # complete: no need to read on
            if ended:
                _close(result)
                return self._complete(start, b"".join(written) + first if written else first)
        except BaseException:
            _close(result)
            raise
        return Stream._prepared(_Body(start, first, iterator, result), start.head,
                                start.code, start.length)

    @staticmethod
    def _complete(start: _Start, body: bytes) -> Response | Stream:
        # A body known whole. One that does not match its declared length
        # goes the streamed way, which ends the connection after it.
        assert start.head is not None
        if start.length is not None and len(body) != start.length:
            return Stream._prepared(iter((body,)), start.head, start.code, start.length)
        return Response._prepared(start.head, start.code, body)

    def _send_file(self, wrapper: FileWrapper, start: _Start) -> FileBody | None:
        found = wrapper._file_range()
        if found is None or start.written:
            return None
        fd, position, available = found
        length = available if start.length is None else min(start.length, available)
        if start.length is not None and start.length > available:
            return None                  # short: the streamed path ends it properly
        start.sent = True
        sent = FileBody(os.dup(fd), position, length, start.head, start.code)  # type: ignore[arg-type]
        _close(wrapper)
        return sent


class WSGIMount:
    """A WSGI application under a URL prefix of an App (``app.mount``)."""

    def __init__(self, prefix: str, app: WSGIApplication) -> None:
        if not prefix.startswith("/"):
            raise ValueError(f"a mount prefix starts with '/', not {prefix!r}")
        self.prefix = prefix.rstrip("/")
        self.handler = WSGIHandler(app, self.prefix)

    def matches(self, path: str) -> bool:
        return (self.prefix == "" or path == self.prefix
                or path.startswith(self.prefix + "/"))

    def serve(self, request: Request) -> Response | Stream | FileBody:
        return self.handler(request)


def is_wsgi_app(obj: object) -> bool:
    """Whether `obj` is to be served as a WSGI application: anything
    callable that is not a fastcore App."""
    return callable(obj) and not isinstance(obj, App)



class WSGIApp(App):
    """An App that hands every request to one WSGI application: what
    ``Server(wsgi_app)`` and ``fastcore run`` serve. It has no native
    routes; limits are those of App."""

    def __init__(self, wsgi_app: WSGIApplication, *, multithread: bool = False,
                 multiprocess: bool = False, **limits: Unpack[LimitOptions]) -> None:
        super().__init__(**limits)
        self.wsgi_app = wsgi_app
        # The engine calls dispatch for every request: the handler itself,
        # with no hop through a method.
        self.dispatch = WSGIHandler(  # type: ignore[method-assign]
            wsgi_app, multithread=multithread, multiprocess=multiprocess)
