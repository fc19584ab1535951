"""Helpers shared by the hardening suite (test_conformance, test_smuggling,
test_hostile_clients, test_fuzz, test_leaks, test_shutdown_load).

- ``EchoApp``: an App whose ``dispatch`` answers every method and target
  with a JSON echo of what the engine parsed, and records each request it
  saw, so a test can prove that a request never reached a handler.
- ``parse_responses``: a strict HTTP/1.1 response parser. Anything that is
  not exactly what fastcore promises (status line, field syntax, exactly one
  Content-Length, Date and Server, a body of that length) is an error.
- ``Conversation``: one client connection that sends bytes (whole, one byte
  at a time or in given pieces), reads until the server closes or answers,
  with a deadline on every wait, and says how the connection ended.
- ``ServerProcess``: a server in a subprocess (``python tests/hardening.py
  CONFIG``), so its RSS, descriptors and CPU time can be measured in
  isolation and its RLIMIT_NOFILE lowered.

No sleeps are used to wait for an event: every wait returns as soon as the
bytes (or the close) arrive, or fails at its deadline.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:                     # when run as a script
    sys.path.insert(0, ROOT)

import conftest  # noqa: E402
import fastcore  # noqa: E402

# How long any single wait for the server may take before the test declares
# it hung (the same bound as conftest.WAIT).
WAIT = 10.0

# ---------------------------------------------------------------------------
# The echo application
# ---------------------------------------------------------------------------


class EchoApp(fastcore.App):
    """Every request, whatever its method and target, reaches ``dispatch``
    (the app has no routes, so the engine's exact-route table is empty) and
    is answered 200 with a JSON object: method, target, version, headers
    (name/value pairs in arrival order, as sent), body (latin-1) and the
    client's port. ``seen`` lists the same objects, in order."""

    def __init__(self, **limits: float) -> None:
        super().__init__(**limits)
        self.seen: list[dict] = []
        self._lock = threading.Lock()

    def dispatch(self, request):                        # noqa: D102
        record = {
            "method": request.method,
            "target": request.target,
            "version": request.version,
            "headers": [[n, v] for n, v in request.headers.items()],
            "body": request.body.decode("latin-1"),
            "port": request.client[1] if request.client else None,
        }
        with self._lock:
            self.seen.append(record)
        return fastcore.Response(json.dumps(record).encode("ascii"),
                                 content_type="application/json")

    def seen_from(self, port: int) -> list[dict]:
        """The requests that reached the handler from one client port."""
        with self._lock:
            return [r for r in self.seen if r["port"] == port]

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()


# ---------------------------------------------------------------------------
# Strict response parsing
# ---------------------------------------------------------------------------

_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5][0-9][0-9]) ([\t \x21-\x7e\x80-\xff]*)")
_FIELD_LINE = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[\x21-\x7e\x80-\xff](?:[ \t]*[\x21-\x7e\x80-\xff])*)?)[ \t]*")
_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
                   r"Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT")


class MalformedResponse(AssertionError):
    """The server sent bytes that are not a well-formed HTTP/1.1 response."""


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    informational: list[int] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def closes(self) -> bool:
        """Whether the response announces the close (Connection: close)."""
        return any(v.strip().lower() == "close"
                   for v in self.header_all("connection"))

    def json(self) -> dict:
        return json.loads(self.body)


def _parse_head(block: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = block.split(b"\r\n")
    for line in lines:
        if b"\n" in line or b"\r" in line:
            raise MalformedResponse(f"bare CR or LF in a response head: {block!r}")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise MalformedResponse(f"bad status line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        field_match = _FIELD_LINE.fullmatch(line)
        if field_match is None:
            raise MalformedResponse(f"bad field line {line!r}")
        headers.append((field_match.group(1).decode("ascii"),
                        field_match.group(2).decode("latin-1")))
    return int(match.group(1)), match.group(2).decode("latin-1"), headers


def parse_one(data: bytes, head: bool = False) -> tuple[Response | None, int]:
    """(response, bytes used) for the response at the start of `data`, or
    (None, 0) when `data` holds only part of one. Raises MalformedResponse
    for anything fastcore must never send."""
    pos = 0
    informational: list[int] = []
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            # Incomplete; but a head can already be wrong in its first line.
            first = data[pos:pos + 16]
            if first and not b"HTTP/1.1 "[:len(first)] == first[:9]:
                raise MalformedResponse(f"not a status line: {data[pos:pos + 80]!r}")
            return None, 0
        status, reason, headers = _parse_head(data[pos:end])
        response = Response(status, reason, headers, b"", informational)
        pos = end + 4
        if 100 <= status < 200:
            if status != 100 or headers:
                raise MalformedResponse(f"unexpected interim response {status} {headers}")
            informational.append(status)
            continue
        break
    names = [k.lower() for k, _ in headers]
    for name in ("date", "server"):
        if names.count(name) != 1:
            raise MalformedResponse(f"{names.count(name)} {name} fields in {headers}")
    if not _DATE.fullmatch(response.header("date") or ""):
        raise MalformedResponse(f"bad Date {response.header('date')!r}")
    if "transfer-encoding" in names:
        raise MalformedResponse("fastcore never sends Transfer-Encoding")
    lengths = response.header_all("content-length")
    if status in (204, 304):
        if lengths:
            raise MalformedResponse(f"Content-Length on a {status}")
        return response, pos
    if len(lengths) != 1 or not lengths[0].isdigit():
        raise MalformedResponse(f"Content-Length fields {lengths} on a {status}")
    if head:
        return response, pos
    length = int(lengths[0])
    if len(data) - pos < length:
        return None, 0
    response.body = data[pos:pos + length]
    return response, pos + length


def parse_responses(data: bytes, heads: Iterable[bool] = ()) -> tuple[list[Response], bytes]:
    """Every complete response in `data`, and what is left after them (the
    start of an incomplete response, or b""). `heads` says, response by
    response, which answer a HEAD request (no body)."""
    heads = list(heads)
    responses: list[Response] = []
    while data:
        head = heads[len(responses)] if len(responses) < len(heads) else False
        response, used = parse_one(data, head)
        if response is None:
            break
        responses.append(response)
        data = data[used:]
    return responses, data


def parse_complete(data: bytes, heads: Iterable[bool] = ()) -> list[Response]:
    """Like parse_responses, but a truncated response at the end is an
    error: `data` is everything a connection received before it closed."""
    responses, rest = parse_responses(data, heads)
    if rest:
        raise MalformedResponse(
            f"truncated response after {len(responses)} complete ones: {rest[:200]!r}")
    return responses


# ---------------------------------------------------------------------------
# A client connection
# ---------------------------------------------------------------------------


def connect(port: int, timeout: float = WAIT) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    # Small sends must leave at once, so byte-at-a-time really is.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def pieces(data: bytes, mode: str | Iterable[int]) -> list[bytes]:
    """`data` cut for sending: "whole", "bytewise", or at the given offsets."""
    if mode == "whole":
        return [data]
    if mode == "bytewise":
        return [data[i:i + 1] for i in range(len(data))]
    cuts = sorted({c for c in mode if 0 < c < len(data)})  # type: ignore[union-attr]
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


class Conversation:
    """One connection. ``send`` tolerates the server closing while bytes
    are still going out (that is a legitimate answer to a bad request);
    ``finish`` reads until the server closes; ``read_responses`` reads until
    `count` complete responses have arrived."""

    def __init__(self, port: int, timeout: float = WAIT) -> None:
        self.sock = connect(port, timeout)
        self.local_port = self.sock.getsockname()[1]
        self.timeout = timeout
        self.received = b""
        self.send_failed: str | None = None
        self.ended: str | None = None        # "eof" or "reset" once closed

    def send(self, data: bytes, mode: str | Iterable[int] = "whole",
             pace: float = 0.0) -> bool:
        """Send; False if the server closed or reset before all was sent.
        With `pace`, the client pauses that long between pieces (a slow
        client), so that each piece reaches the server in a read of its
        own rather than coalesced with the next."""
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
                self._poll()
        return True

    def _poll(self) -> None:
        # Between pieces, collect whatever has already arrived, without
        # waiting, so that a response to a bad request is not lost when
        # the server's later reset discards unread input.
        while self.ended is None:
            ready, _, _ = select.select([self.sock], [], [], 0)
            if not ready:
                return
            self._recv()

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
        return True

    def shutdown_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def finish(self, timeout: float | None = None) -> bytes:
        """Read until the server closes; AssertionError if it does not
        within `timeout`. Returns everything received."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self.ended is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"the server did not close the connection within the deadline; "
                    f"received {self.received[:300]!r}")
            self.sock.settimeout(left)
            try:
                self._recv()
            except TimeoutError:
                continue
        return self.received

    def read_responses(self, count: int, heads: Iterable[bool] = (),
                       timeout: float | None = None) -> list[Response]:
        """Read until `count` complete responses have arrived (or the
        server closed); returns the complete ones so far."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        heads = list(heads)
        while True:
            responses, _ = parse_responses(self.received, heads)
            if len(responses) >= count or self.ended is not None:
                return responses
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{len(responses)} of {count} responses within the deadline; "
                    f"received {self.received[:300]!r}")
            self.sock.settimeout(left)
            try:
                self._recv()
            except TimeoutError:
                continue

    def is_open(self, timeout: float = 0.2) -> bool:
        """True if the server has not closed within `timeout` (used only to
        confirm a connection stays open, never to wait for an event)."""
        if self.ended is not None:
            return False
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return True
        self._recv()
        return self.ended is None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Conversation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def one_request(port: int, data: bytes, timeout: float = WAIT) -> Response:
    """Send one request on a new connection and return its response."""
    with Conversation(port, timeout) as conv:
        conv.send(data)
        responses = conv.read_responses(1)
        assert responses, f"no response; received {conv.received[:300]!r}"
        return responses[0]


# ---------------------------------------------------------------------------
# /proc measurements
# ---------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fd_count(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int | str = "self") -> float:
    """User plus system CPU time of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wait_until(predicate, timeout: float = WAIT, interval: float = 0.01,
               what: str = "condition") -> None:
    """Poll a condition that has no event to wait on (a count in /proc),
    returning as soon as it holds; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------
# A server in a subprocess
# ---------------------------------------------------------------------------


def hello_app(**limits: float) -> fastcore.App:
    """conftest's hello_app, plus a big and a freshly built body."""
    app = conftest.hello_app(**limits)

    @app.route("/big")
    def big(request):
        return BIG_BODY

    @app.route("/fresh")
    def fresh(request):
        # A new 1 MiB body per request: memory that piles up if the server
        # answered requests faster than the client reads.
        return b"f" * FRESH_SIZE

    return app


BIG_BODY = b"z" * (4 * 1024 * 1024)
FRESH_SIZE = 1024 * 1024


class ServerProcess:
    """``with ServerProcess(limits={...}, nofile=64) as proc:`` runs
    hello_app() (or EchoApp with app="echo") in a child process and knows
    its port and pid. The child serves with serve_forever(), so SIGTERM
    stops it gracefully."""

    def __init__(self, limits: dict | None = None, nofile: int | None = None,
                 app: str = "hello", log_file: str | None = None) -> None:
        self.config = {"limits": limits or {}, "nofile": nofile, "app": app}
        self.log_file = log_file
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> ServerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (ROOT, env.get("PYTHONPATH")) if p)
        stderr = open(self.log_file, "wb") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), json.dumps(self.config)],
            stdout=subprocess.PIPE, stderr=stderr, env=env)
        if self.log_file:
            stderr.close()
        ready, _, _ = select.select([self.process.stdout], [], [], WAIT * 2)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the server process did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait (the server's own drain is bounded by its
        shutdown_timeout, 10 s); returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and not self.process.stdout.closed:
            self.stop()


def _serve_main(config: dict) -> None:
    import resource

    if config.get("nofile"):
        resource.setrlimit(resource.RLIMIT_NOFILE, (config["nofile"], config["nofile"]))
    limits = config.get("limits") or {}
    app = EchoApp() if config.get("app") == "echo" else hello_app()
    server = fastcore.Server(app, "127.0.0.1", 0, **limits)
    server.listen()
    # Announced once SIGTERM stops it gracefully, so the parent may signal.
    server.serve_forever(ready=lambda: print(f"PORT {server.port}", flush=True))


if __name__ == "__main__":
    _serve_main(json.loads(sys.argv[1]))
