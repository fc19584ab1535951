"""Before measuring: does the server answer this scenario correctly? Sends
the exact bytes the load generator will send and reads every response
(status 200, the right body), so a server that answers only part of a
pipelined batch, or the wrong bytes, is reported instead of measured."""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass


def wait_listening(port: int, alive, timeout: float = 20.0) -> None:
    """Return once 127.0.0.1:port accepts; raise if `alive()` turns false
    (the server died) or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the server exited during start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f} s")


@dataclass
class Response:
    status: int
    fields: dict[str, str]          # lower-case names; the last of repeated ones
    body: bytes


def _read_response(sock: socket.socket, buf: bytearray) -> Response | None:
    """One response from `buf` (refilled from `sock`), or None if the
    connection ended or went quiet first."""
    head = _read_until(sock, buf, b"\r\n\r\n")
    if head is None:
        return None
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = _read_until(sock, buf, b"\r\n")
            if size_line is None:
                return None
            size = int(size_line.split(b";")[0], 16)
            data = _read_exactly(sock, buf, size + 2)       # the chunk and its CRLF
            if data is None:
                return None
            body += data[:size]
            if size == 0:
                break           # no trailers expected from these servers
    else:
        body = _read_exactly(sock, buf, int(fields.get("content-length", 0)))
        if body is None:
            return None
    return Response(int(lines[0].split()[1]), fields, bytes(body))


def _read_until(sock: socket.socket, buf: bytearray, mark: bytes) -> bytes | None:
    while mark not in buf:
        if not _fill(sock, buf):
            return None
    end = buf.index(mark)
    data = bytes(buf[:end])
    del buf[:end + len(mark)]
    return data


def _read_exactly(sock: socket.socket, buf: bytearray, size: int) -> bytes | None:
    while len(buf) < size:
        if not _fill(sock, buf):
            return None
    data = bytes(buf[:size])
    del buf[:size]
    return data


def _fill(sock: socket.socket, buf: bytearray) -> bool:
    try:
        data = sock.recv(1 << 20)
    except TimeoutError:
        return False
    buf += data
    return bool(data)


def caught_up(port: int, request: bytes, timeout: float = 30.0) -> None:
    """Send one request on a new connection and read its answer, whatever
    it is. A server that works through requests in turn answers it only
    after those the last load left behind (wrk and loadgen stop with
    requests in flight; a 10 ms handler times 64 connections is 0.64 s of
    work), so the next run does not start with the previous one's tail."""
    with contextlib.suppress(OSError, ValueError), \
            socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        _read_response(sock, bytearray())


@dataclass
class Verdict:
    problem: str | None             # None: every response was right
    announces_close: bool = False   # the last response said Connection: close


def check(port: int, request: bytes, depth: int, expected: bytes) -> Verdict:
    """Whether all `depth` responses to `request` are 200 with `expected`
    as body; if not, what went wrong (the reason a measurement is skipped)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.sendall(request)
        buf = bytearray()
        response = None
        for i in range(depth):
            if i == 1:
                # A short wait from here: a server that ignores the rest of
                # a pipelined batch never sends more.
                sock.settimeout(1.0)
            try:
                response = _read_response(sock, buf)
            except (OSError, ValueError) as exc:
                return Verdict(f"response {i + 1} of {depth}: {exc}")
            if response is None:
                return Verdict(f"answered {i} of {depth} requests sent in one write"
                               if depth > 1 else "no response")
            if response.status != 200:
                return Verdict(f"response {i + 1}: status {response.status}, not 200")
            if response.body != expected:
                return Verdict(f"response {i + 1}: a {len(response.body)}-byte body, "
                               f"not the expected {len(expected)} bytes")
    assert response is not None
    return Verdict(None, "close" in response.fields.get("connection", "").lower())
