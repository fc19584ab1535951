"""fastcore: python -m benchmarks.apps.fastcore_app PORT DOCROOT [--stream-as-file]

Also served by `fastcore run benchmarks.apps.fastcore_app:app [--workers N]
[--threads N]` for the cpu100us and sleep10ms scenarios (their routes are
on `app` at import; the static mount and the stream need the docroot, so
only this module's main adds them)."""

import os
import sys
import time

import fastcore
from benchmarks.apps import work

HELLO = b"Hello, World!"
WORK_N = work.loop_count()

app = fastcore.App()


@app.route("/")
def index(request):
    # Plain bytes: the shortest path, and what the README teaches.
    return HELLO


@app.route("/echo", methods=["POST"])
def echo(request):
    return fastcore.Response(request.body, content_type="application/octet-stream")


@app.route("/work")
def cpu_work(request):
    work.spin(WORK_N)
    return HELLO


@app.route("/sleep")
def sleep(request):
    # Stands for a database round trip: the thread waits, the CPU does not.
    time.sleep(0.01)
    return HELLO


def stream_route(path):
    """GET /stream/<file>: the file's bytes yielded one 64 KiB block at a
    time from memory. The file is one block repeated (see
    scenarios.LARGE_FILES), so the first block, yielded size/64 KiB times,
    is the file, without reading the disk per request."""
    with open(path, "rb") as f:
        block = f.read(64 * 1024)
    count = os.path.getsize(path) // len(block)

    def chunks():
        for _ in range(count):
            yield block

    def handler(request):
        return fastcore.Stream(chunks(), content_type="application/octet-stream")
    return handler


if __name__ == "__main__":
    port, docroot = int(sys.argv[1]), sys.argv[2]
    # Static files are new in the engine; peers.py skips the static
    # scenarios for fastcore when App has no static().
    if hasattr(app, "static"):
        app.static("/static", docroot)
    if "--stream-as-file" in sys.argv[3:]:
        # The stream scenario's reference: the same bytes by sendfile.
        app.static("/stream", docroot)
    elif hasattr(fastcore, "Stream"):
        for name in os.listdir(docroot):
            app.add_route(f"/stream/{name}", stream_route(os.path.join(docroot, name)))
    app.run(host="127.0.0.1", port=port)
