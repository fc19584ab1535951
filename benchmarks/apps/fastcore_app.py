"""fastcore: python -m benchmarks.apps.fastcore_app PORT DOCROOT"""

import sys

import fastcore

HELLO = b"Hello, World!"

app = fastcore.App()


@app.route("/")
def index(request):
    # Plain bytes: the shortest path, and what the README teaches.
    return HELLO


@app.route("/echo", methods=["POST"])
def echo(request):
    return fastcore.Response(request.body, content_type="application/octet-stream")


if __name__ == "__main__":
    port, docroot = int(sys.argv[1]), sys.argv[2]
    # Static files are new in the engine; peers.py skips the static
    # scenarios for fastcore when App has no static().
    if hasattr(app, "static"):
        app.static("/static", docroot)
    app.run(host="127.0.0.1", port=port)
