"""Many clients at once."""

import selectors
import socket

from conftest import request_bytes


def test_1000_concurrent_connections_all_answered(server):
    selector = selectors.DefaultSelector()
    pending = {}
    for _ in range(1000):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.setblocking(False)
        pending[sock] = b""
    for sock in pending:
        sock.send(request_bytes())
        selector.register(sock, selectors.EVENT_READ)
    expected = b"<h1>Hello, World!</h1>"
    answered = 0
    while answered < 1000:
        events = selector.select(timeout=10)
        assert events, f"only {answered} of 1000 answered"
        for key, _ in events:
            sock = key.fileobj
            pending[sock] += sock.recv(65536)
            if pending[sock].endswith(expected):
                assert pending[sock].startswith(b"HTTP/1.1 200 OK\r\n")
                selector.unregister(sock)
                answered += 1
    assert server.connections == 1000
    for sock in pending:
        sock.close()
