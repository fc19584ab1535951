"""The applications the suite serves, in a thread (helpers.serving) or in a
child process (server_process.ServerProcess).

- ``hello_app``: a page, an echo of the request body, a handler that
  raises, and two large bodies.
- ``EchoApp``: every request, whatever its method and target, answered with
  a JSON echo of what the engine parsed, and recorded, so that a test can
  prove that a request never reached a handler.
- ``wsgi_file_app``: a WSGI application that answers with a file through
  ``wsgi.file_wrapper``.
"""

from __future__ import annotations

import io
import json
import threading

import fastcore

BIG_BODY = b"z" * (4 * 1024 * 1024)
FRESH_SIZE = 1024 * 1024


def hello_app(**limits: float) -> fastcore.App:
    """``/`` (a page), ``/echo`` (the request body back), ``/boom`` (a
    handler that raises), ``/big`` (a 4 MiB body built once), ``/fresh``
    (a new 1 MiB body per request: memory that piles up if the server
    answered faster than the client reads) and ``/endless`` (a streamed
    body that never ends)."""
    app = fastcore.App(**limits)

    @app.route("/")
    def index(request):
        return b"<h1>Hello, World!</h1>"

    @app.route("/echo", methods=["GET", "POST", "PUT"])
    def echo(request):
        return fastcore.Response(request.body, content_type="application/octet-stream")

    @app.route("/boom")
    def boom(request):
        raise RuntimeError("boom")

    @app.route("/big")
    def big(request):
        return BIG_BODY

    @app.route("/fresh")
    def fresh(request):
        return b"f" * FRESH_SIZE

    @app.route("/endless")
    def endless(request):
        # A streamed body without end, a new 64 KiB chunk each time: memory
        # that piles up if the server pulled faster than the client reads.
        while True:
            yield b"e" * 65536

    return app


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


class UnreadableFile(io.FileIO):
    """A real file whose read() fails: served whole, its bytes came from its
    descriptor, not through Python."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("a regular file was read in Python")

    readinto = read                                  # type: ignore[assignment]


def wsgi_file_app(path: str):
    """A WSGI application answering every request with the file at `path`
    through ``wsgi.file_wrapper``. The query string says from where
    (``at=N``), with which Content-Length (``length=N``) and whether the
    file refuses to be read in Python (``unreadable=1``)."""
    def app(environ, start_response):
        query = dict(p.split("=") for p in environ["QUERY_STRING"].split("&") if p)
        opened = (UnreadableFile if "unreadable" in query else io.FileIO)(path)
        opened.seek(int(query.get("at", 0)))
        headers = [("Content-Type", "application/octet-stream")]
        if "length" in query:
            headers.append(("Content-Length", query["length"]))
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](opened, 4096)
    return app


def whoami_app(**limits: float) -> fastcore.App:
    """Every path answered with JSON of who the request says the client is
    (``client``, ``scheme``, ``host``, ``url``) and the length of its body,
    for the tests behind a proxy. ``/stream`` streams eight chunks."""
    app = fastcore.App(**limits)

    def facts(request):
        client = request.client
        return {"client": list(client) if client is not None else None,
                "scheme": request.scheme, "host": request.host, "url": request.url,
                "length": len(request.body)}

    @app.route("/stream")
    def stream(request):
        for i in range(8):
            yield f"chunk {i}\n".encode()

    @app.route("/{rest:path}", methods=["GET", "POST"])
    def any_path(request):
        return facts(request)

    @app.route("/", methods=["GET", "POST"])
    def index(request):
        return facts(request)

    return app


def wsgi_whoami(environ, start_response):
    """A WSGI application that answers with JSON of the environ's view of
    the client: REMOTE_ADDR, REMOTE_PORT, wsgi.url_scheme, HTTP_HOST."""
    body = json.dumps({key: environ.get(key) for key in (
        "REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme", "HTTP_HOST")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
