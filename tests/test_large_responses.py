"""Responses bigger than the socket buffer, clients that read slowly, and
backpressure on clients that pipeline without reading."""

import hashlib
import time

import fastcore
from helpers import request_bytes

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


def check_big_then_small(client):
    # The deadline covers 10 MiB read at a slow reader's pace.
    big, small = client.response(timeout=60), client.response()
    assert big.header("content-length") == str(len(BIG))
    assert hashlib.sha256(big.body).digest() == hashlib.sha256(BIG).digest()
    assert small.body == b"small"


def test_10_mib_response_to_a_slow_reader_arrives_whole(serve, raw):
    with serve(big_app()) as server:
        # Pacing, not synchronisation: the reader takes a while over each
        # chunk, so the server meets a full socket many times.
        client = raw(server.port, rcvbuf=64 * 1024, read_pace=0.001)
        client.send(request_bytes(path="/big") + request_bytes(path="/small"))
        check_big_then_small(client)


def test_slow_but_steady_reader_outlasts_the_write_timeout(serve, raw):
    # The kernel takes megabytes into the send buffer at once; a client that
    # drains it slowly is making progress and must not be cut off, even
    # though the server's own sends pause for longer than write_timeout.
    with serve(big_app(), write_timeout=0.3) as server:
        client = raw(server.port, rcvbuf=64 * 1024, read_pace=0.01)
        client.send(request_bytes(path="/big") + request_bytes(path="/small"))
        started = time.monotonic()
        check_big_then_small(client)
        assert time.monotonic() - started > 0.6


def test_pipelining_client_that_does_not_read_is_throttled(serve, raw):
    # 64 requests for 10 MiB each would be 640 MiB of output; the server
    # must stop reading requests while output waits, and still answer all
    # of them in order once the client reads.
    with serve(big_app()) as server:
        client = raw(server.port)
        remaining = client.send_available(request_bytes(path="/big") * 64)
        for i in range(64):
            # Send what the server would not read before, as it drains.
            remaining = client.send_available(remaining)
            response = client.response()
            assert response.status == 200 and len(response.body) == len(BIG)
