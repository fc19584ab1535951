"""Each timeout closes the connection. Short timeouts keep the tests fast;
every wait below ends as soon as the server acts."""

import select
import time

import fastcore
from apps import hello_app
from helpers import request_bytes


def wait_closed(client):
    started = time.monotonic()
    assert client.closed(), "the server did not close the connection"
    return time.monotonic() - started


def test_idle_keepalive_connection_is_closed(serve, raw):
    with serve(hello_app(), keepalive_timeout=0.3) as server:
        client = raw(server.port)
        client.send(request_bytes())
        assert client.response().status == 200
        elapsed = wait_closed(client)
        assert 0.2 <= elapsed < 5


def test_connection_that_never_sends_is_closed(serve, raw):
    with serve(hello_app(), keepalive_timeout=0.3) as server:
        client = raw(server.port)
        assert wait_closed(client) < 5
        assert client.received == b""


def test_slow_header_block_gets_408_and_close(serve, raw):
    with serve(hello_app(), header_timeout=0.4, keepalive_timeout=5) as server:
        client = raw(server.port)
        started = time.monotonic()
        client.send(b"GET / HTTP/1.1\r\nHost: x\r\n")     # never finished
        response = client.response()
        assert response.status == 408
        assert client.closed()
        assert time.monotonic() - started >= 0.3


def test_trickled_header_bytes_do_not_extend_the_header_timeout(serve, raw):
    with serve(hello_app(), header_timeout=0.5) as server:
        client = raw(server.port)
        client.send(b"GET / HTTP/1.1\r\n")
        started = time.monotonic()
        # One header byte per 0.1 s wait on the socket; the server must
        # still cut the request off at the header timeout.
        closed = False
        while time.monotonic() - started < 5:
            if not client.send(b"X") or client.read(0.1):
                closed = True             # answered, closed or reset
                break
        assert closed
        assert time.monotonic() - started < 2


def test_stalled_body_gets_408_and_close(serve, raw):
    with serve(hello_app(), body_timeout=0.3) as server:
        client = raw(server.port)
        client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        assert client.response().status == 408
        assert client.closed()


def test_client_that_does_not_read_is_cut_off_at_write_timeout(serve, raw):
    app = fastcore.App()
    big = b"x" * (32 * 1024 * 1024)

    @app.route("/big")
    def handler(request):
        return big

    with serve(app, write_timeout=0.3) as server:
        client = raw(server.port, rcvbuf=4096)
        client.send(request_bytes(path="/big"))
        # Read nothing; poll() with no events still reports the reset
        # (POLLERR/POLLHUP) the server sends when it gives up.
        started = time.monotonic()
        poller = select.poll()
        poller.register(client.sock, 0)
        events = poller.poll(10_000)
        assert events and events[0][1] & (select.POLLERR | select.POLLHUP)
        assert 0.2 <= time.monotonic() - started < 5
        client.finish()
        assert len(client.received) < len(big)
