"""The load scenarios: what one measurement sends, and what a correct server
answers. Every peer serves the same URLs (see apps/), so a scenario is just
the raw request bytes plus the expected response body."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

HELLO = b"Hello, World!"
# Printable, so that the Lua script and any log stay readable; 1 KiB exactly.
ECHO_BODY = (b"0123456789abcdef" * 64)[:1024]
STATIC_FILES = {"1k.bin": 1024, "10m.bin": 10 * 1024 * 1024}


@dataclass(frozen=True)
class Scenario:
    name: str                 # short id: pytest group, table row, CLI argument
    title: str                # what it measures, for tables
    kind: str                 # the app feature used: hello, echo or static
    path: str
    method: str = "GET"
    body: bytes = b""
    depth: int = 1            # requests written back to back in one write
    close: bool = False       # Connection: close, so one connection per request
    connections: int = 64

    def request(self, port: int) -> bytes:
        """The bytes wrk (or loadgen) writes each time: `depth` requests."""
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        if self.body or self.method == "POST":
            head += ["Content-Type: application/octet-stream",
                     f"Content-Length: {len(self.body)}"]
        if self.close:
            head.append("Connection: close")
        one = ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + self.body
        return one * self.depth

    def expected_body(self, docroot: str) -> bytes:
        if self.kind == "hello":
            return HELLO
        if self.kind == "echo":
            return self.body
        with open(os.path.join(docroot, self.path.rsplit("/", 1)[1]), "rb") as f:
            return f.read()


SCENARIOS = [
    Scenario("hello", "Hello World, keep-alive, 64 connections", "hello", "/"),
    Scenario("pipeline16", "Hello World, 16 requests pipelined per write", "hello", "/",
             depth=16),
    Scenario("newconn", "Hello World, a new connection per request", "hello", "/",
             close=True),
    Scenario("echo1k", "POST 1 KiB, echoed back", "echo", "/echo", method="POST",
             body=ECHO_BODY),
    Scenario("static1k", "static file, 1 KiB", "static", "/static/1k.bin"),
    # Fewer connections: 64 x 10 MiB in flight only measures socket buffers.
    Scenario("static10m", "static file, 10 MiB", "static", "/static/10m.bin",
             connections=16),
]
BY_NAME = {s.name: s for s in SCENARIOS}


def make_docroot() -> str:
    """A directory with the static files, readable by nginx's worker user
    (mkdtemp makes it 0700, and nginx drops root)."""
    root = tempfile.mkdtemp(prefix="fastcore-bench-docroot-")
    os.chmod(root, 0o755)
    for name, size in STATIC_FILES.items():
        path = os.path.join(root, name)
        with open(path, "wb") as f:
            # Incompressible and not all one byte, so a wrong offset shows.
            f.write(os.urandom(size))
        os.chmod(path, 0o644)
    return root
