"""Streamed responses: a body produced piece by piece while it is sent.

A handler returns an iterator or generator of ``bytes``/``str`` chunks, or
a :class:`Stream` around any iterable when it needs a status, fields or a
length. Without a length the body goes out chunked on HTTP/1.1 and
delimited by the connection's close on HTTP/1.0. The engine pulls the next
chunk, on the loop's thread, only while the connection's unsent output is
under ``write_high_water``, and sends each chunk as soon as it has it. The
iterator's ``close()`` is called when the body ends, when the client goes
away and on any error.

A generator that waits (for a database, a queue, a sleep) holds up every
other connection of the server while it waits. For a producer that is
slow or lives in another thread, return an :class:`EventStream` and feed it
from that thread: the loop is woken when there is something to send, and
never polls. (Worker processes, and a handler thread pool, are the other
ways to keep slow work off the loop.)
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable

from fastcore.responses import HTML, Fields, _check_status, encode_fields, status_line

__all__ = ["EventStream", "Stream"]


class Stream:
    """``Stream(iterable, status=200, headers=None, content_type="text/html;
    charset=utf-8", length=None)``: a response whose body is the chunks of
    `iterable` (bytes, or str sent as UTF-8; empty chunks are skipped).

    With `length`, the body is sent with that Content-Length; a body that
    turns out shorter or longer ends the connection after it (the client
    can tell that it is incomplete). HEAD requests, 204 and 304 get the
    fields and no body, and the iterator is closed unread.
    """

    __slots__ = ("iterable", "_status", "_head", "length")

    def __init__(self, iterable: Iterable[bytes | str], status: int = 200,
                 headers: Fields | None = None, content_type: str | None = HTML,
                 length: int | None = None) -> None:
        self.iterable = iterable
        self._status = _check_status(status)
        if length is not None and (isinstance(length, bool) or not isinstance(length, int)
                                   or length < 0):
            raise ValueError(f"a stream's length is an int >= 0, not {length!r}")
        self.length = length
        self._head = status_line(self._status) + encode_fields(headers, content_type)

    @property
    def status(self) -> int:
        return self._status

    @classmethod
    def _prepared(cls, iterable: Iterable[bytes | str], head: bytes, status: int,
                  length: int | None) -> Stream:
        # For a bridge (WSGI) that has already checked and encoded the
        # status line and fields.
        stream = cls.__new__(cls)
        stream.iterable, stream._head, stream._status, stream.length = (
            iterable, head, status, length)
        return stream

    def __repr__(self) -> str:
        return f"<Stream {self._status} of {type(self.iterable).__name__}>"


# What the engine's side of an EventStream finds in its queue to end it.
_END = object()


class EventStream(Stream):
    """Server-Sent Events (``text/event-stream``, the protocol of the
    browser's ``EventSource``): return it from a handler, then push events
    from any thread with :meth:`send`, and end it with :meth:`close`.

    ``EventStream(headers=None, retry=None, max_queued=10_000)``: `retry`
    tells clients how many milliseconds to wait before they reconnect.
    Events sent before the handler returns are queued. A client that falls
    more than `max_queued` events behind is disconnected, so a slow client
    cannot make the server hold an unbounded backlog for it.

    ``send`` returns False once the stream is closed, by either side: a
    producer stops when its client has gone.
    """

    __slots__ = ("_queue", "_wake", "_closed", "max_queued")

    def __init__(self, headers: Fields | None = None, *, retry: int | None = None,
                 max_queued: int = 10_000) -> None:
        fields = list(headers.items() if isinstance(headers, dict) else headers or ())
        fields.append(("Cache-Control", "no-cache"))
        # Tells nginx not to buffer the stream (it would hold events back).
        fields.append(("X-Accel-Buffering", "no"))
        super().__init__((), headers=fields, content_type="text/event-stream; charset=utf-8")
        self._queue: collections.deque[object] = collections.deque()
        # Set by the engine once the response has started: wakes its loop.
        self._wake: Callable[[], None] | None = None
        self._closed = False
        self.max_queued = max_queued
        if retry is not None:
            self._queue.append(f"retry: {int(retry)}\n\n".encode("ascii"))

    @property
    def closed(self) -> bool:
        """True once the stream has ended: closed here, or the client left."""
        return self._closed

    def send(self, data: str | bytes, event: str | None = None,
             id: str | None = None) -> bool:
        """Queue one event (thread-safe). `data` may span lines; `event` and
        `id` may not. Returns False, and sends nothing, if the stream is
        closed."""
        if self._closed:
            return False
        self._push(format_event(data, event, id))
        return True

    def comment(self, text: str = "") -> bool:
        """Queue a comment line, which clients ignore: a keep-alive through
        proxies that close idle connections."""
        if self._closed:
            return False
        self._push(b":" + _one_line(text, "a comment").encode("utf-8") + b"\n\n")
        return True

    def close(self) -> None:
        """End the stream once the events already queued are sent
        (thread-safe; a second call does nothing)."""
        if not self._closed:
            self._closed = True
            self._push(_END)

    def _push(self, item: object) -> None:
        self._queue.append(item)
        wake = self._wake
        if wake is not None:
            wake()

    def __repr__(self) -> str:
        return f"<EventStream {'closed' if self._closed else 'open'}, {len(self._queue)} queued>"


def _one_line(text: str, what: str) -> str:
    if "\n" in text or "\r" in text or "\x00" in text:
        raise ValueError(f"{what} must be one line without NUL")
    return text


def format_event(data: str | bytes, event: str | None = None, id: str | None = None) -> bytes:
    """One event in the text/event-stream format (the HTML standard's
    "server-sent events"): a ``data:`` line per line of `data`."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    lines = []
    if event is not None:
        lines.append(f"event: {_one_line(event, 'an event name')}\n")
    if id is not None:
        lines.append(f"id: {_one_line(id, 'an event id')}\n")
    for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        lines.append(f"data: {line}\n")
    lines.append("\n")
    return "".join(lines).encode("utf-8")
