"""A small load generator for machines without wrk, and for warm-ups shorter
than wrk's 1 s: N connections on one non-blocking selector loop, each
writing the scenario's bytes (one request or a pipelined batch), reading
every response (by Content-Length, or chunked), and writing again. It
prints the same ``BENCH {json}`` line as the wrk script.

It is Python, so on a fast server it is the bottleneck: its numbers compare
peers with each other under the same client, never with wrk's.

    python -m benchmarks.loadgen --port P --connections 64 --seconds 3 \
        --depth 1 --request-file request.bin
"""

from __future__ import annotations

import argparse
import json
import re
import selectors
import socket
import time

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)")
CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked")


class Conn:
    __slots__ = ("sock", "buf", "pending", "start", "need", "chunked", "last", "status",
                 "close", "out")

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.sock.connect_ex(("127.0.0.1", port))
        self.buf = bytearray()
        self.pending = 0
        self.start = 0.0
        self.need = -1          # body bytes still expected; -1 while reading a head
        self.chunked = False    # the body is chunked: `need` counts the current chunk
        self.last = False       # that chunk is the last one (size 0)
        self.status = 0
        self.close = False
        self.out = b""

    def take_body(self) -> bool:
        """Consume what `buf` holds of the body; True once it is complete.
        A chunked body (RFC 9112 section 7.1; these servers send no
        trailers) alternates size lines and chunk data plus its CRLF."""
        while True:
            if self.need > 0:
                take = min(len(self.buf), self.need)
                del self.buf[:take]
                self.need -= take
                if self.need:
                    return False
            if not self.chunked or self.last:
                return True
            end = self.buf.find(b"\r\n")
            if end < 0:
                return False
            size = int(bytes(self.buf[:end]).split(b";")[0], 16)
            del self.buf[:end + 2]
            self.need, self.last = size + 2, size == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--request-file", required=True)
    args = parser.parse_args()
    with open(args.request_file, "rb") as f:
        request = f.read()

    sel = selectors.DefaultSelector()
    errors = dict(connect=0, read=0, write=0, status=0, timeout=0)
    latencies: list[float] = []
    done = 0
    received = 0

    def send(c: Conn) -> None:
        c.out, c.pending, c.start = request, args.depth, time.perf_counter()
        sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    def open_conn() -> Conn:
        c = Conn(args.port)
        sel.register(c.sock, selectors.EVENT_WRITE, c)
        c.out, c.pending, c.start = request, args.depth, time.perf_counter()
        return c

    def reopen(c: Conn) -> None:
        sel.unregister(c.sock)
        c.sock.close()
        open_conn()

    for _ in range(args.connections):
        open_conn()
    begin = time.perf_counter()
    deadline = begin + args.seconds
    while (now := time.perf_counter()) < deadline:
        for key, mask in sel.select(deadline - now):
            c: Conn = key.data
            if mask & selectors.EVENT_WRITE and c.out:
                try:
                    sent = c.sock.send(c.out)
                except BlockingIOError:
                    continue
                except OSError:
                    errors["connect" if not c.buf and c.pending else "write"] += 1
                    reopen(c)
                    continue
                c.out = c.out[sent:]
                if not c.out:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            if not mask & selectors.EVENT_READ:
                continue
            try:
                data = c.sock.recv(1 << 18)
            except BlockingIOError:
                continue
            except OSError:
                data = None
            if not data:
                errors["read"] += 1
                reopen(c)
                continue
            received += len(data)
            c.buf += data
            while True:
                if c.need < 0:
                    end = c.buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = bytes(c.buf[:end]).lower()
                    del c.buf[:end + 4]
                    c.status = int(head[9:12])
                    length = CONTENT_LENGTH.search(head)
                    c.need = int(length.group(1)) if length else 0
                    c.chunked, c.last = bool(CHUNKED.search(head)), False
                    c.close = b"connection: close" in head
                if not c.take_body():
                    break
                c.need = -1
                done += 1
                if c.status >= 400:
                    errors["status"] += 1
                c.pending -= 1
                if c.pending == 0:
                    latencies.append(time.perf_counter() - c.start)
                    if c.close:
                        reopen(c)
                    else:
                        send(c)
                    break
    elapsed = time.perf_counter() - begin
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1e6

    print("BENCH " + json.dumps(dict(
        requests=done, duration_us=elapsed * 1e6, bytes=received, p50_us=pct(0.50),
        p99_us=pct(0.99), **errors)), flush=True)


if __name__ == "__main__":
    main()
