"""Responses bigger than the socket buffer, clients that read slowly, and
backpressure on clients that pipeline without reading."""

import hashlib
import socket
import time

import fastcore
from conftest import RawClient, request_bytes

BIG = bytes(range(256)) * (10 * 1024 * 1024 // 256)      # 10 MiB


def big_app():
    app = fastcore.App()

    @app.route("/big")
    def big(request):
        return fastcore.Response(BIG, content_type="application/octet-stream")

    @app.route("/small")
    def small(request):
        return b"small"

    return app


def read_slowly(sock, until, pause):
    # Pacing, not synchronisation: the reader takes a while over each
    # chunk, so the server meets a full socket many times.
    received = bytearray()
    while not received.endswith(until):
        chunk = sock.recv(64 * 1024)
        assert chunk, "the server closed before sending everything"
        received += chunk
        time.sleep(pause)
    return bytes(received)


def check_big_then_small(received):
    head, _, rest = received.partition(b"\r\n\r\n")
    assert b"Content-Length: %d" % len(BIG) in head
    assert hashlib.sha256(rest[:len(BIG)]).digest() == hashlib.sha256(BIG).digest()
    assert rest[len(BIG):].endswith(b"\r\n\r\nsmall")


def test_10_mib_response_to_a_slow_reader_arrives_whole(serve):
    with serve(big_app()) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(request_bytes(path="/big") + request_bytes(path="/small"))
        check_big_then_small(read_slowly(sock, b"small", 0.001))
        sock.close()


def test_slow_but_steady_reader_outlasts_the_write_timeout(serve):
    # The kernel takes megabytes into the send buffer at once; a client that
    # drains it slowly is making progress and must not be cut off, even
    # though the server's own sends pause for longer than write_timeout.
    with serve(big_app(), write_timeout=0.3) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(request_bytes(path="/big") + request_bytes(path="/small"))
        started = time.monotonic()
        check_big_then_small(read_slowly(sock, b"small", 0.01))
        assert time.monotonic() - started > 0.6
        sock.close()


def test_pipelining_client_that_does_not_read_is_throttled(serve):
    # 64 requests for 10 MiB each would be 640 MiB of output; the server
    # must stop reading requests while output waits, and still answer all
    # of them in order once the client reads.
    with serve(big_app()) as server:
        client = RawClient(server.port)
        client.sock.setblocking(False)
        sent = 0
        data = request_bytes(path="/big") * 64
        try:
            while sent < len(data):
                sent += client.sock.send(data[sent:])
        except BlockingIOError:
            pass
        client.sock.settimeout(10)
        if sent < len(data):
            remaining = data[sent:]
        else:
            remaining = b""
        for i in range(64):
            if remaining:
                # Send what the server would not read before, as it drains.
                client.sock.setblocking(False)
                try:
                    remaining = remaining[client.sock.send(remaining):]
                except BlockingIOError:
                    pass
                client.sock.settimeout(10)
            response = client.response()
            assert response.status == 200 and len(response.body) == len(BIG)
        client.close()
