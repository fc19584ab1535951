"""A WSGI app for bjoern: python -m benchmarks.apps.wsgi_app PORT DOCROOT."""

import os
import sys

HELLO = b"Hello, World!"
TEXT = [("Content-Type", "text/plain"), ("Content-Length", "13")]
FILES: dict[str, str] = {}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/":
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
    bjoern.run(app, "127.0.0.1", port)
