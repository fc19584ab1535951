"""An RSGI app for granian: granian --interface rsgi benchmarks.apps.rsgi_app:app.
Static files are served by granian's own static mount (--static-path-*),
the counterpart of fastcore's app.static(), so no route here."""

HELLO = b"Hello, World!"
TEXT = [("content-type", "text/plain")]
BINARY = [("content-type", "application/octet-stream")]


async def app(scope, proto):
    path = scope.path
    if path == "/":
        proto.response_bytes(200, TEXT, HELLO)
    elif path == "/echo":
        proto.response_bytes(200, BINARY, await proto())
    else:
        proto.response_empty(404, [])
