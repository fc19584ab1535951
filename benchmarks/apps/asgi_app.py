"""A raw ASGI app for uvicorn (no framework, so the server is measured):
uvicorn benchmarks.apps.asgi_app:app, docroot from FASTCORE_BENCH_DOCROOT."""

import os

HELLO = b"Hello, World!"
TEXT = [(b"content-type", b"text/plain"), (b"content-length", b"13")]
DOCROOT = os.environ.get("FASTCORE_BENCH_DOCROOT", "")
# Only the files present at start-up are served: no path is ever joined from
# the request.
FILES = {"/static/" + name: os.path.join(DOCROOT, name)
         for name in (os.listdir(DOCROOT) if DOCROOT else ())}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return                      # lifespan is switched off on the command line
    path = scope["path"]
    if path == "/":
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": HELLO})
    elif path == "/echo":
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    elif path in FILES:
        # uvicorn has no zero-copy send: ASGI apps read the file themselves.
        with open(FILES[path], "rb") as f:
            body = f.read()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    else:
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
