"""The demo that ``python -m fastcore`` serves: the original socket
prototype's Hello World page, and a few routes that show the API."""

from __future__ import annotations

import html

from fastcore._core import Request
from fastcore.app import App
from fastcore.responses import Response

INDEX = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>fastcore</title></head>
<body>
<h1>Hello, World!</h1>
<p>Served by fastcore. Try <a href="/hello/you">/hello/you</a>
or <code>curl -d 'some data' http://127.0.0.1:8081/echo</code>.</p>
</body>
</html>
"""

app = App()


@app.route("/")
def index(request: Request) -> bytes:
    return INDEX


@app.route("/hello/{name}")
def hello(request: Request) -> str:
    return f"<h1>Hello, {html.escape(request.params['name'])}!</h1>"


@app.route("/echo", methods=["POST", "PUT"])
def echo(request: Request) -> Response:
    return Response(request.body, content_type=request.headers.get(
        "content-type", "application/octet-stream"))
