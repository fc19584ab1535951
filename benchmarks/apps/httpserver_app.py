"""The standard library's ThreadingHTTPServer, the baseline every Python
user has: python -m benchmarks.apps.httpserver_app PORT DOCROOT."""

import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

HELLO = b"Hello, World!"


class Handler(SimpleHTTPRequestHandler):
    # HTTP/1.1, or every request would close its connection.
    protocol_version = "HTTP/1.1"
    # socketserver's own switch: headers and body leave in two writes, and
    # with Nagle on the body waits for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(HELLO)
        elif self.path.startswith("/static/"):
            self.path = self.path[len("/static"):]
            super().do_GET()
        else:
            self.send_error(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass                        # a log line per request would be the benchmark


class Server(ThreadingHTTPServer):
    # The default backlog of 5 drops SYNs when 64 clients connect at once.
    request_queue_size = 1024


if __name__ == "__main__":
    port, docroot = int(sys.argv[1]), sys.argv[2]
    Server(("127.0.0.1", port), partial(Handler, directory=docroot)).serve_forever()
