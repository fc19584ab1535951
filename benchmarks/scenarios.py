"""The load scenarios: what one measurement sends, and what a correct server
answers. Every peer serves the same URLs (see apps/), so a scenario is just
the raw request bytes plus the expected response body. A scenario's `kind`
is the app feature it needs (hello, echo, static, stream, wsgi, flask,
cpu, sleep); each peer says which kinds it can serve."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

HELLO = b"Hello, World!"
# Printable, so that the Lua script and any log stay readable; 1 KiB exactly.
ECHO_BODY = (b"0123456789abcdef" * 64)[:1024]
STATIC_FILES = {"1k.bin": 1024, "10m.bin": 10 * 1024 * 1024}
# Written only when a scenario asks for it (Scenario.prepare): 100 MiB is
# half a second of disk writes that most runs do not need. It is one
# STREAM_CHUNK block repeated, so that the streaming app can yield the very
# same bytes from one block in memory (apps/fastcore_app.py).
LARGE_FILES = {"100m.bin": 100 * 1024 * 1024}
STREAM_CHUNK = 64 * 1024

# What Chrome 131 on Linux sends for a link followed within a site: 17
# fields with Host, about 900 bytes, a 150-byte Cookie. "@HOST@" becomes
# 127.0.0.1:PORT.
BROWSER_COOKIE = ("sessionid=8f14e45fceea167a5a36dedd4bea2543; "
                  "csrftoken=Zx9KqT3vLmN7pR2sW5yB8cD1fG4hJ6kA; theme=dark; lang=en-GB; "
                  "_ga=GA1.1.1843726519.1732612345; ab=12")
BROWSER_FIELDS = (
    ("Connection", "keep-alive"),
    ("Cache-Control", "max-age=0"),
    ("sec-ch-ua", '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Linux"'),
    ("Upgrade-Insecure-Requests", "1"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/131.0.0.0 Safari/537.36"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
               "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-User", "?1"),
    ("Sec-Fetch-Dest", "document"),
    ("Referer", "http://@HOST@/index.html"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7"),
    ("Cookie", BROWSER_COOKIE),
)


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
    fields: tuple[tuple[str, str], ...] = ()     # more header fields, after Host
    throughput: bool = False  # large bodies: MB/s is shown beside req/s

    def request(self, port: int) -> bytes:
        """The bytes wrk (or loadgen) writes each time: `depth` requests."""
        host = f"127.0.0.1:{port}"
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        head += [f"{name}: {value.replace('@HOST@', host)}" for name, value in self.fields]
        if self.body or self.method == "POST":
            head += ["Content-Type: application/octet-stream",
                     f"Content-Length: {len(self.body)}"]
        if self.close:
            head.append("Connection: close")
        one = ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + self.body
        return one * self.depth

    @property
    def file(self) -> str | None:
        """The docroot file whose bytes are the answer, if any."""
        return self.path.rsplit("/", 1)[1] if self.kind in ("static", "stream") else None

    def expected_body(self, docroot: str) -> bytes:
        if self.kind == "echo":
            return self.body
        if self.file is None:
            return HELLO            # every other app answers Hello, World!
        with open(os.path.join(docroot, self.file), "rb") as f:
            return f.read()

    def prepare(self, docroot: str) -> None:
        """Write the large file this scenario needs, once per docroot,
        before any server starts (the apps list the docroot at start-up)."""
        name = self.file
        if name not in LARGE_FILES or os.path.exists(os.path.join(docroot, name)):
            return
        block = os.urandom(STREAM_CHUNK)
        path = os.path.join(docroot, name)
        with open(path + ".part", "wb") as f:
            for _ in range(LARGE_FILES[name] // STREAM_CHUNK):
                f.write(block)
        os.chmod(path + ".part", 0o644)
        os.rename(path + ".part", path)


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
             connections=16, throughput=True),
    Scenario("browser", "a browser's GET / (17 header fields, 900 bytes), keep-alive",
             "hello", "/", fields=BROWSER_FIELDS),
    # Features fastcore does not have yet: its peer says `unsupported` (with
    # what is missing) until they land; the other peers measure today.
    Scenario("wsgi_hello", "raw WSGI Hello World, keep-alive", "wsgi", "/"),
    Scenario("flask_hello", "Flask Hello World, keep-alive", "flask", "/"),
    # 4 connections: a few large bodies at once, as in a download.
    Scenario("stream100m", "100 MiB: streamed in 64 KiB chunks, or the same bytes as a file",
             "stream", "/stream/100m.bin", connections=4, throughput=True),
    Scenario("cpu100us", "a handler doing ~100 us of pure-Python work, workers", "cpu",
             "/work"),
    Scenario("sleep10ms", "a handler waiting 10 ms (time.sleep), handler threads", "sleep",
             "/sleep"),
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
