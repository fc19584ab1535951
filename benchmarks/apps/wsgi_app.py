"""A raw WSGI app (no framework, so the server is measured), served by
bjoern: python -m benchmarks.apps.wsgi_app PORT DOCROOT [MODULE:APP]
(another WSGI app instead, e.g. benchmarks.apps.flask_app:app), and by
gunicorn, granian, waitress and `fastcore run ... --interface wsgi` as
benchmarks.apps.wsgi_app:app."""

import importlib
import os
import sys
import time

HELLO = b"Hello, World!"
TEXT = [("Content-Type", "text/plain"), ("Content-Length", "13")]
FILES: dict[str, str] = {}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/":
        start_response("200 OK", TEXT)
        return [HELLO]
    if path == "/sleep":
        # The sleep10ms scenario: stands for a database round trip.
        time.sleep(0.01)
        start_response("200 OK", TEXT)
        return [HELLO]
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if path in FILES:
        # Read, not wsgi.file_wrapper: bjoern sends a file_wrapper with
        # sendfile(2) after the headers, on a socket without TCP_NODELAY, so
        # on a keep-alive connection each small file waits ~40 ms for the
        # client's delayed ACK (1,400 req/s for 1 KiB). Bytes leave with the
        # headers.
        with open(FILES[path], "rb") as f:
            body = f.read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", [("Content-Length", "0")])
    return [b""]


if __name__ == "__main__":
    import bjoern

    port, docroot = int(sys.argv[1]), sys.argv[2]
    FILES.update({"/static/" + n: os.path.join(docroot, n) for n in os.listdir(docroot)})
    served = app
    if len(sys.argv) > 3:
        module, _, name = sys.argv[3].partition(":")
        served = getattr(importlib.import_module(module), name or "app")
    bjoern.run(served, "127.0.0.1", port)
