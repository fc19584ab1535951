"""The applications the suite serves, in a thread (helpers.serving) or in a
child process (server_process.ServerProcess).

- ``hello_app``: a page, an echo of the request body, a handler that
  raises, and two large bodies.
- ``EchoApp``: every request, whatever its method and target, answered with
  a JSON echo of what the engine parsed, and recorded, so that a test can
  prove that a request never reached a handler.
"""

from __future__ import annotations

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
