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
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from fastcore._core import StartResponse, WSGIBridge
from fastcore.app import App
from fastcore.limits import LimitOptions
from fastcore.responses import FileBody

if TYPE_CHECKING:
    from fastcore._core import Request

__all__ = ["FileWrapper", "WSGIApp", "WSGIHandler", "WSGIMount", "is_wsgi_app"]

logger = logging.getLogger("fastcore.wsgi")

StartResponseCallable = Callable[..., Callable[[bytes], None]]


class WSGIApplication(Protocol):
    def __call__(self, environ: dict[str, Any],
                 start_response: StartResponseCallable) -> Iterable[bytes]: ...


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


class _Body:
    """A streamed WSGI body: what write() was given, the first chunk
    already read, then the rest of the iterable (write() data in between
    too, in order). Closing it closes the application's iterable."""

    __slots__ = ("_start", "_first", "_iterator", "_result")

    def __init__(self, start: StartResponse, first: bytes, iterator: Iterator[bytes],
                 result: Iterable[bytes]) -> None:
        self._start, self._first, self._iterator, self._result = (
            start, first, iterator, result)

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        written = self._start.written
        if written:
            return written.pop(0)               # write() data, in order
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


def _send_file(wrapper: FileWrapper, start: StartResponse) -> FileBody | None:
    # A file_wrapper around a regular file, sent with sendfile(2) from its
    # position: the whole rest, or the declared length of it.
    found = wrapper._file_range()
    if found is None or start.written:
        return None
    fd, position, available = found
    if start.length is not None and start.length > available:
        return None                  # short: the streamed way ends it properly
    length = available if start.length is None else start.length
    start.sent = True
    sent = FileBody(os.dup(fd), position, length, start.head, start.code)
    close = getattr(wrapper, "close", None)
    if close is not None:
        close()
    return sent


def WSGIHandler(app: WSGIApplication, script_name: str = "", *,   # noqa: N802
                multithread: bool = False, multiprocess: bool = False) -> WSGIBridge:
    """A fastcore handler that runs a WSGI application: ``handler(request)``
    returns what the engine sends. `script_name` is the prefix it is
    mounted at ("" for the whole server)."""
    if not callable(app):
        raise TypeError(f"{app!r} is not a WSGI application (not callable)")
    # The keys that are the same for every request.
    base: dict[str, Any] = {
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
    return WSGIBridge(app, base, script_name.rstrip("/"), _Body, FileWrapper, _send_file)


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

    def serve(self, request: Request) -> object:
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
