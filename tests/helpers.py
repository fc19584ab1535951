"""What every test module shares to talk to a server: a server in a thread,
one raw client and one strict response parser. (The apps it serves are
apps.py's; a server in a child process is server_process.py's.)

- ``serving(app, **limits)``: a Server on 127.0.0.1, port 0, in a thread.
- ``request_bytes``: a well-formed request, for tests that do not test the
  request's syntax.
- ``parse_one``, ``parse_responses``, ``parse_complete``: the strict
  response parser. Anything that is not exactly what fastcore promises is
  a ``MalformedResponse``: the status line, the field syntax, exactly one
  Content-Length (none on 204 and 304), one Date and one Server on every
  final response, a body of that length, nothing after a response that
  announced the close; a HEAD response without a body; interim responses
  (only 100, without fields) recorded. With ``streaming=True`` it also
  takes the two framings of a streamed response, each with its own rules:
  chunked, and delimited by the close.
- ``RawClient``: one connection that sends exact bytes (whole, one byte at
  a time or in given pieces), reads with a deadline on every wait, parses
  what it reads with the parser above, and says how the connection ended:
  ``ended`` is None while it is open, "eof" after the server's FIN, "reset"
  after its RST.
- ``CookieClient``: a RawClient that keeps the cookies the server sets and
  sends them back, as a browser does (for the Flask and Django apps).
- ``wait_until`` (poll a condition that has no event), ``free_port`` and
  ``ClientThread`` (a thread that keeps its exception for the test).

Plain modules (this one, apps.py, server_process.py), not conftest.py:
conftest.py is a pytest plugin, found by its path, and ``import conftest``
finds whichever conftest.py comes first on sys.path (benchmarks/ has one
too); these are imported by name alike by the tests, by the server child
process and by apps written for a ``fastcore run`` subprocess, none of
which has pytest's fixtures. conftest.py holds the fixtures (``serve``,
``server``, ``raw``), which hand these helpers to the tests, and
``require_tool``/``require_module``.

No sleep waits for an event: every wait returns as soon as the bytes (or
the close) arrive, or fails at its deadline. The only sleeps pace a client
(a pause between the pieces it sends, or after each read of a slow
reader), and ``wait_until`` polls a condition that has no event to wait on.
"""

from __future__ import annotations

import contextlib
import http.cookies
import json
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import fastcore

# How long any single wait for the server may take before the test declares
# it hung. Never a synchronisation sleep: every wait ends as soon as the
# server acts.
WAIT = 10.0

# The pause between the bytes of a "bytewise" send, so that the server
# really reads them one at a time instead of coalesced.
BYTE_PACE = 2e-5


# ---------------------------------------------------------------------------
# A server in a thread, and requests for it
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def serving(app: fastcore.App, **limits: float) -> Iterator[fastcore.Server]:
    """A Server for `app` on 127.0.0.1, port 0, started in a thread; on the
    way out it must stop in time and its loop must not have failed."""
    server = fastcore.Server(app, "127.0.0.1", 0, **limits)
    server.start()
    try:
        yield server
    finally:
        assert server.stop(5.0), "the server did not stop in time"
        assert server.error is None, f"the server loop failed: {server.error!r}"


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


def free_port() -> int:
    """A port nothing listens on now, for a server in another process that
    must be told its port before it starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def refuses_connections(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:`port` any more (a closed
    listener): the connect is refused."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def wait_until(predicate: Callable[[], object], timeout: float = WAIT,
               interval: float = 0.01, what: str = "condition") -> None:
    """Poll a condition that has no event to wait on (a count in /proc, a
    flag of the server), returning as soon as it holds; AssertionError at
    the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


class ClientThread(threading.Thread):
    """A daemon thread that drives clients in ``drive()`` and keeps what it
    raised in ``error`` for the test to report (an exception in a thread
    would otherwise only be printed)."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(daemon=True, name=name)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.drive()
        except BaseException as exc:                     # reported by the test
            self.error = exc

    def drive(self) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------------------
# The strict response parser
# ---------------------------------------------------------------------------

# RFC 9112 section 4: status-line = HTTP-version SP status-code SP
# [ reason-phrase ]; fastcore speaks HTTP/1.1 to every client (section 2.3).
_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5][0-9][0-9]) ([\t \x21-\x7e\x80-\xff]*)")
# RFC 9110 section 5.1 (a token name) and 5.5 (a value without CR, LF, NUL
# or other controls; optional whitespace around it).
_FIELD_LINE = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[\x21-\x7e\x80-\xff](?:[ \t]*[\x21-\x7e\x80-\xff])*)?)[ \t]*")
# RFC 9110 section 5.6.7: IMF-fixdate, the only form a sender generates.
_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
                   r"Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT")
# A length as fastcore writes it: decimal digits, no sign, no leading zero.
_LENGTH = re.compile(r"0|[1-9][0-9]*")
# A chunk size as fastcore will write it (RFC 9112 section 7.1): hex digits,
# no leading zero, at most 64 bits, and no chunk extension: fastcore has
# nothing to say in one, and a recipient ignores them.
_CHUNK_SIZE = re.compile(rb"0|[1-9A-Fa-f][0-9A-Fa-f]{0,15}")
_CHUNK_SIZE_START = re.compile(rb"(?:0|[1-9A-Fa-f][0-9A-Fa-f]{0,15})?\r?")
# RFC 9110 section 6.5.1: fields a trailer must not carry, as they frame,
# route or describe the content and are needed before it.
_NOT_IN_TRAILERS = {"content-length", "transfer-encoding", "trailer", "host", "connection",
                    "content-type", "content-encoding", "content-range", "date", "server"}


class MalformedResponse(AssertionError):
    """The server sent bytes that are not a well-formed HTTP/1.1 response."""


class ServerHung(AssertionError):
    """The server neither sent what was awaited nor closed the connection
    within the deadline."""


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    informational: list[int] = field(default_factory=list)
    # How the body was delimited: "length" (Content-Length), "none" (HEAD,
    # 204, 304), and with streaming, "chunked" or "close".
    framing: str = "length"
    trailers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of every `name` field, lower-cased."""
        return {t.strip().lower() for v in self.header_all(name) for t in v.split(",")}

    @property
    def closes(self) -> bool:
        """Whether the response announces the close (Connection: close)."""
        return "close" in self.tokens("connection")

    def json(self) -> dict:
        return json.loads(self.body)


def _field_lines(lines: Iterable[bytes]) -> list[tuple[str, str]]:
    fields = []
    for line in lines:
        match = _FIELD_LINE.fullmatch(line)
        if match is None:
            raise MalformedResponse(f"bad field line {line!r}")
        fields.append((match.group(1).decode("ascii"), match.group(2).decode("latin-1")))
    return fields


def _parse_head(block: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = block.split(b"\r\n")
    for line in lines:
        if b"\n" in line or b"\r" in line:
            raise MalformedResponse(f"bare CR or LF in a response head: {block!r}")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise MalformedResponse(f"bad status line {lines[0]!r}")
    return int(match.group(1)), match.group(2).decode("latin-1"), _field_lines(lines[1:])


def _check_fields(response: Response) -> None:
    """What every final response carries (README, "HTTP/1.1 behaviour")."""
    names = [k.lower() for k, _ in response.headers]
    for name in ("date", "server"):
        if names.count(name) != 1:
            raise MalformedResponse(f"{names.count(name)} {name} fields in {response.headers}")
    if not _DATE.fullmatch(response.header("date") or ""):
        raise MalformedResponse(f"bad Date {response.header('date')!r}")


def _framing(response: Response, head: bool, streaming: bool) -> str:
    """How the body of `response` is delimited, or MalformedResponse where
    its fields do not say that unambiguously."""
    status = response.status
    lengths = response.header_all("content-length")
    codings = response.header_all("transfer-encoding")
    if codings:
        if not streaming:
            raise MalformedResponse("Transfer-Encoding where fastcore streams nothing")
        # RFC 9112 section 6.1: never on 1xx or 204 (nor 304: no content);
        # never beside Content-Length (section 6.2); chunked is the only
        # coding fastcore applies, once.
        if status in (204, 304):
            raise MalformedResponse(f"Transfer-Encoding on a {status}")
        if lengths:
            raise MalformedResponse(f"Transfer-Encoding and Content-Length {lengths}")
        if codings != ["chunked"]:
            raise MalformedResponse(f"Transfer-Encoding fields {codings}")
        return "none" if head else "chunked"
    if status in (204, 304):
        if lengths:
            raise MalformedResponse(f"Content-Length on a {status}")
        return "none"
    if not lengths:
        # RFC 9112 section 6.3, item 8: no length, so the close ends the
        # body. fastcore announces that close (section 9.6), and only a
        # streamed body may be framed so. Not for HEAD: its GET would have
        # been close-delimited, so the HEAD response says nothing to frame.
        if not streaming or head:
            raise MalformedResponse(f"no Content-Length on a {status}")
        if not response.closes:
            raise MalformedResponse("a body delimited by the close without Connection: close")
        return "close"
    if len(lengths) != 1 or not _LENGTH.fullmatch(lengths[0]):
        raise MalformedResponse(f"Content-Length fields {lengths} on a {status}")
    return "none" if head else "length"


def _chunked_body(data: bytes | bytearray, pos: int, response: Response) -> int | None:
    """Decode the chunked body at `pos` into `response` (body, trailers);
    the offset after it, or None when it is not all there yet."""
    body = bytearray()
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            # Incomplete; but what is there must begin a size line.
            if not _CHUNK_SIZE_START.fullmatch(bytes(data[pos:pos + 18])):
                raise MalformedResponse(f"bad chunk size line {bytes(data[pos:pos + 40])!r}")
            return None
        line = bytes(data[pos:end])
        if not _CHUNK_SIZE.fullmatch(line):
            raise MalformedResponse(f"bad chunk size line {line!r}")
        size, pos = int(line, 16), end + 2
        if size == 0:
            break
        if len(data) - pos < size + 2:
            return None
        if data[pos + size:pos + size + 2] != b"\r\n":
            raise MalformedResponse(
                f"chunk data not followed by CRLF: {bytes(data[pos + size:pos + size + 10])!r}")
        body += data[pos:pos + size]
        pos += size + 2
    # RFC 9112 section 7.1.2: trailer fields, then the empty line.
    if data[pos:pos + 2] == b"\r\n":
        end = pos
    else:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return None
        end += 2
    lines = bytes(data[pos:end]).split(b"\r\n")[:-1] if end > pos else []
    if any(b"\n" in line or b"\r" in line for line in lines):
        raise MalformedResponse(f"bare CR or LF in trailers: {bytes(data[pos:end])!r}")
    trailers = _field_lines(lines)
    # RFC 9110 section 6.6.2: a sender announces its trailers in Trailer.
    announced = response.tokens("trailer")
    for name, _ in trailers:
        if name.lower() in _NOT_IN_TRAILERS:
            raise MalformedResponse(f"{name} sent as a trailer")
        if name.lower() not in announced:
            raise MalformedResponse(f"trailer {name} not announced in a Trailer field")
    response.body, response.trailers = bytes(body), trailers
    return end + 2


def parse_one(data: bytes | bytearray, head: bool = False, *, start: int = 0,
              streaming: bool = False, closed: bool = False) -> tuple[Response | None, int]:
    """(response, offset after it) for the response at `start` in `data`,
    or (None, start) when `data` holds only part of one. Raises
    MalformedResponse for anything fastcore must never send. `head`: it
    answers a HEAD request (no body). `streaming`: chunked and
    close-delimited bodies are allowed. `closed`: `data` ends where the
    server closed the connection with a FIN, which ends a close-delimited
    body (a reset ends nothing: what was lost is unknown)."""
    pos = start
    informational: list[int] = []
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            # Incomplete; but a head can already be wrong in its first bytes.
            first = bytes(data[pos:pos + 9])
            if first and not b"HTTP/1.1 ".startswith(first):
                raise MalformedResponse(f"not a status line: {bytes(data[pos:pos + 80])!r}")
            return None, start
        status, reason, headers = _parse_head(bytes(data[pos:end]))
        pos = end + 4
        if 100 <= status < 200:
            # Only 100 Continue, bare (RFC 9110 section 15.2.1); 101 would
            # be an upgrade, which fastcore refuses.
            if status != 100 or headers:
                raise MalformedResponse(f"unexpected interim response {status} {headers}")
            informational.append(status)
            continue
        break
    response = Response(status, reason, headers, informational=informational)
    _check_fields(response)
    response.framing = _framing(response, head, streaming)
    if response.framing == "none":
        return response, pos
    if response.framing == "chunked":
        after = _chunked_body(data, pos, response)
        return (None, start) if after is None else (response, after)
    if response.framing == "close":
        if not closed:
            return None, start
        response.body = bytes(data[pos:])
        return response, len(data)
    length = int(response.header_all("content-length")[0])
    if len(data) - pos < length:
        return None, start
    response.body = bytes(data[pos:pos + length])
    return response, pos + length


def _parse_from(data: bytes | bytearray, heads: Sequence[bool], streaming: bool,
                closed: bool, after_close: bool = False) -> tuple[list[Response], int]:
    """Every complete response in `data` and the offset after them.
    `after_close`: a response before `data` announced the close, so any
    byte at all is one too many (RFC 9112 section 9.6: nothing is answered
    after it)."""
    responses: list[Response] = []
    pos = 0
    while pos < len(data):
        if after_close or (responses and responses[-1].closes):
            raise MalformedResponse(
                f"bytes after a response that announced the close: {bytes(data[pos:pos + 200])!r}")
        index = len(responses)
        response, pos = parse_one(data, heads[index] if index < len(heads) else False,
                                  start=pos, streaming=streaming, closed=closed)
        if response is None:
            break
        responses.append(response)
    return responses, pos


def parse_responses(data: bytes | bytearray, heads: Iterable[bool] = (), *,
                    streaming: bool = False, closed: bool = False) -> tuple[list[Response], bytes]:
    """Every complete response in `data`, and what is left after them (the
    start of an incomplete response, or b""). `heads` says, response by
    response, which answer a HEAD request (no body)."""
    responses, end = _parse_from(data, list(heads), streaming, closed)
    return responses, bytes(data[end:])


def parse_complete(data: bytes | bytearray, heads: Iterable[bool] = (), *,
                   streaming: bool = False) -> list[Response]:
    """Like parse_responses, but a truncated response at the end is an
    error: `data` is everything a connection received before the server
    closed it."""
    responses, rest = parse_responses(data, heads, streaming=streaming, closed=True)
    if rest:
        raise MalformedResponse(
            f"truncated response after {len(responses)} complete ones: {rest[:200]!r}")
    return responses


# ---------------------------------------------------------------------------
# The raw client
# ---------------------------------------------------------------------------


def pieces(data: bytes, mode: str | Iterable[int]) -> list[bytes]:
    """`data` cut for sending: "whole", "bytewise", or at the given offsets."""
    if mode == "whole":
        return [data]
    if mode == "bytewise":
        return [data[i:i + 1] for i in range(len(data))]
    cuts = sorted({c for c in mode if 0 < c < len(data)})  # type: ignore[union-attr]
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


class RawClient:
    """One connection to a server on 127.0.0.1 that sends exactly the bytes
    given and reads the responses itself, strictly parsed.

    - ``send`` (whole, bytewise or in pieces) tolerates the server closing
      while bytes are still going out: that is a legitimate answer to a bad
      request. ``send_available`` sends only what the kernel takes at once.
    - ``response()`` takes the next response; ``read_responses(n)`` waits
      for n complete responses without taking them; ``finish()`` reads
      until the server closes; ``closed()`` says whether it did. Each wait
      fails (ServerHung) at `timeout` seconds, or ends as soon as the
      server acts.
    - ``received`` holds the bytes not yet taken by ``response()``;
      ``ended`` is None while the connection is open, "eof" once the
      server's FIN arrived, "reset" once its RST did.

    `rcvbuf` shrinks the receive buffer (before connecting, so the window
    is small from the start); `read_pace` makes a slow reader that pauses
    that long after each read; `streaming` lets the parser take chunked and
    close-delimited bodies."""

    def __init__(self, port: int, timeout: float = WAIT, *, rcvbuf: int | None = None,
                 read_pace: float = 0.0, streaming: bool = False) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect(("127.0.0.1", port))
            # Small sends must leave at once, so byte-at-a-time really is.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.local_port: int = sock.getsockname()[1]
        self.timeout = timeout
        self.read_pace = read_pace
        self.streaming = streaming
        self.received = bytearray()
        self.ended: str | None = None
        self.send_failed: str | None = None
        # A response already taken announced the close: nothing may follow.
        self._close_announced = False

    # -- sending -------------------------------------------------------------

    def send(self, data: bytes, mode: str | Iterable[int] = "whole",
             pace: float | None = None) -> bool:
        """Send; False if the server closed or reset before all was sent.
        With `pace` (for "bytewise" BYTE_PACE unless given), the client
        pauses that long between pieces, so that each reaches the server in
        a read of its own rather than coalesced with the next."""
        if pace is None:
            pace = BYTE_PACE if mode == "bytewise" else 0.0
        for index, piece in enumerate(pieces(data, mode)):
            if self.ended is not None:
                return False
            if pace and index:
                time.sleep(pace)
            try:
                self.sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError) as exc:
                self.send_failed = type(exc).__name__
                return False
            if mode != "whole":
                self._collect()
        return True

    def send_available(self, data: bytes) -> bytes:
        """Send as much of `data` as the kernel takes without waiting;
        returns the rest."""
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view, socket.MSG_DONTWAIT):]
            except BlockingIOError:
                break
        return bytes(view)

    def shutdown_write(self) -> None:
        """Half-close: the server sees the end of the request stream."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    # -- reading ---------------------------------------------------------------

    def _recv(self) -> bool:
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError:
            self.ended = "reset"
            return False
        if not chunk:
            self.ended = "eof"
            return False
        self.received += chunk
        if self.read_pace:
            time.sleep(self.read_pace)           # pacing: a slow reader
        return True

    def _readable(self, timeout: float) -> bool:
        # poll(2), not select(2): a test may hold more than FD_SETSIZE
        # (1024) descriptors.
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(max(0, int(timeout * 1000 + 0.999))))

    def _collect(self) -> None:
        # Between pieces, take whatever has already arrived, without
        # waiting, so that a response to a bad request is not lost when
        # the server's later reset discards unread input.
        while self.ended is None and self._readable(0):
            self._recv()

    def read(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` for bytes or the close and take them;
        whether anything happened."""
        if self.ended is not None:
            return False
        if not self._readable(self.timeout if timeout is None else timeout):
            return False
        self._recv()
        return True

    def read_until(self, done: Callable[[], bool], what: str = "the condition",
                   timeout: float | None = None) -> None:
        """Read until `done()` holds (ServerHung at the deadline)."""
        self._read_until(done, timeout, what)

    def _read_until(self, done: Callable[[], bool], timeout: float | None, what: str) -> None:
        """Read until `done()` or the connection ends; ServerHung at the
        deadline."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while not done() and self.ended is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerHung(f"{what} within {limit} s; received "
                                 f"{bytes(self.received[:300])!r}")
            self.read(left)

    def _next(self, head: bool) -> tuple[Response | None, int]:
        """The next response, if it is all there, and the offset after it."""
        if self._close_announced and self.received:
            raise MalformedResponse("bytes after a response that announced the close: "
                                    f"{bytes(self.received[:200])!r}")
        return parse_one(self.received, head, streaming=self.streaming,
                         closed=self.ended == "eof")

    def response(self, head: bool = False, timeout: float | None = None) -> Response:
        """Take the next response (`head`: it answers a HEAD request, so it
        has no body); AssertionError if the connection ends before it is
        complete."""
        found: list[tuple[Response | None, int]] = []

        def complete() -> bool:
            found[:] = [self._next(head)]
            return found[0][0] is not None

        self._read_until(complete, timeout, "no complete response")
        response, end = found[0]             # as of the last read
        if response is None:
            raise AssertionError(f"the connection ended ({self.ended}) before a complete "
                                 f"response; received {bytes(self.received[:300])!r}")
        del self.received[:end]
        self._close_announced = response.closes
        return response

    def read_responses(self, count: int, heads: Iterable[bool] = (),
                       timeout: float | None = None) -> list[Response]:
        """Read until `count` complete responses have arrived (after those
        taken by response()), or the server closed; returns the complete
        ones so far, without taking them."""
        heads = list(heads)

        def parsed() -> list[Response]:
            return _parse_from(self.received, heads, self.streaming, self.ended == "eof",
                               self._close_announced)[0]

        self._read_until(lambda: len(parsed()) >= count, timeout, f"fewer than {count} responses")
        return parsed()

    def read_head(self, timeout: float | None = None) -> Response:
        """The head of the next response, strictly parsed, once it has
        arrived, without taking it: for a test that acts while the body is
        still coming."""
        def head_complete() -> bool:
            return parse_one(self.received, True, streaming=self.streaming)[0] is not None
        self._read_until(head_complete, timeout, "no response head")
        response, _ = parse_one(self.received, True, streaming=self.streaming)
        if response is None:
            raise AssertionError(f"the connection ended ({self.ended}) in a response head")
        return response

    def read_at_least(self, size: int, timeout: float | None = None) -> None:
        """Read until `size` bytes are held (or the connection ended)."""
        self._read_until(lambda: len(self.received) >= size, timeout, f"fewer than {size} bytes")

    def finish(self, timeout: float | None = None) -> bytearray:
        """Read until the server closes; ServerHung if it does not within
        `timeout`. Returns every byte not taken by response()."""
        self._read_until(lambda: False, timeout, "the server did not close the connection")
        if self._close_announced and self.received:
            raise MalformedResponse("bytes after a response that announced the close: "
                                    f"{bytes(self.received[:200])!r}")
        return self.received

    def closed(self, timeout: float | None = None) -> bool:
        """True when the server has closed the connection (FIN or reset)
        within `timeout`. The client then closes its side too, so that a
        server lingering on the connection can let go."""
        try:
            self.finish(timeout)
        except ServerHung:
            return False
        self.sock.close()
        return True

    def is_open(self, timeout: float = 0.2) -> bool:
        """True if the server has not closed within `timeout` (used only to
        confirm a connection stays open, never to wait for an event)."""
        self.read(timeout)
        return self.ended is None

    # -- closing ---------------------------------------------------------------

    def reset(self) -> None:
        """Close with a reset (SO_LINGER 0) instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def one_request(port: int, data: bytes, timeout: float = WAIT) -> Response:
    """Send one request on a new connection and return its response."""
    with RawClient(port, timeout) as client:
        client.send(data)
        return client.response()


class CookieClient:
    """One connection, through a RawClient (streaming bodies allowed), that
    keeps the cookies the responses set (RFC 6265: a cookie set with an
    empty value and Max-Age=0 is deleted) and sends them back on every
    request. ``request()`` returns the strictly parsed response."""

    def __init__(self, port: int, timeout: float = WAIT) -> None:
        self.raw = RawClient(port, timeout, streaming=True)
        self.cookies: dict[str, str] = {}

    def request(self, method: str = "GET", path: str = "/", *,
                headers: list[tuple[str, str]] | None = None, body: bytes = b"",
                mode: str | Iterable[int] = "whole") -> Response:
        fields = list(headers or [])
        if self.cookies:
            fields.append(("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items())))
        self.raw.send(request_bytes(method, path, headers=fields, body=body), mode)
        response = self.raw.response(head=method == "HEAD")
        for line in response.header_all("set-cookie"):
            jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> CookieClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
