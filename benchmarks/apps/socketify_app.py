"""socketify (uWebSockets): python -m benchmarks.apps.socketify_app PORT DOCROOT."""

import os
import sys

from socketify import App, AppListenOptions, sendfile

HELLO = b"Hello, World!"

# Responses still in flight (a body arriving, a file leaving). socketify
# gives uWS a cffi handle to the response object but keeps no reference to
# it: under load, with `await res.get_data()` or its own app.static(), a
# response was collected mid-flight and the next callback aborted the
# process ("ffi.from_handle() ... points to garbage", socketify 0.0.31,
# cffi 2.1). Holding them here until they finish avoids that.
_in_flight = set()


def index(res, req):
    res.write_header("Content-Type", "text/plain")
    res.end(HELLO)


def echo(res, req):
    chunks = []
    _in_flight.add(res)

    def on_data(res, chunk, is_end):
        if chunk:
            chunks.append(chunk)
        if is_end:
            _in_flight.discard(res)
            res.write_header("Content-Type", "application/octet-stream")
            res.end(b"".join(chunks))

    res.on_aborted(lambda res: _in_flight.discard(res))
    res.on_data(on_data)


def file_route(path):
    """socketify's own file sender (what app.static() uses), with the
    response held until it is done."""
    async def send(res, req):
        try:
            await sendfile(res, req, path)
        finally:
            _in_flight.discard(res)

    def handler(res, req):
        _in_flight.add(res)
        res.grab_aborted_handler()
        res.run_async(send(res, req))
    return handler


if __name__ == "__main__":
    port, docroot = int(sys.argv[1]), sys.argv[2]
    app = App()
    app.get("/", index)
    app.post("/echo", echo)
    for name in os.listdir(docroot):
        app.get(f"/static/{name}", file_route(os.path.join(docroot, name)))
    app.listen(AppListenOptions(port=port, host="127.0.0.1"), lambda config: None)
    app.run()
