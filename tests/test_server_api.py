"""Embedding: a Server in a background thread, port 0, stop() that loses
no request, and the loop releasing the GIL while it waits."""

import errno
import http.client
import socket
import threading
import time
import urllib.request

import pytest

import fastcore
from apps import hello_app
from helpers import RawClient, request_bytes, wait_until


def test_port_zero_and_url():
    server = fastcore.Server(hello_app(), "127.0.0.1", 0)
    with server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/"
        client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        client.request("GET", "/")
        assert client.getresponse().read() == b"<h1>Hello, World!</h1>"
        client.close()
    # Stopped: the port no longer accepts connections.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2)


@pytest.mark.parametrize("port", [70000, 65536, -1, -8081])
def test_a_port_out_of_range_is_refused_naming_it(port):
    # getaddrinfo would take 70000 modulo 65536 and bind port 4464.
    with pytest.raises(ValueError, match=f"port {port} "):
        fastcore.Server(hello_app(), "127.0.0.1", port)


@pytest.mark.parametrize("port", ["8081", 80.0, True, None])
def test_a_port_that_is_not_an_int_is_refused(port):
    with pytest.raises(TypeError, match="port"):
        fastcore.Server(hello_app(), "127.0.0.1", port)


def test_address_in_use_names_the_address():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = fastcore.Server(hello_app(), "127.0.0.1", port)
        with pytest.raises(OSError) as caught:
            server.start()
    assert caught.value.errno == errno.EADDRINUSE
    assert str(caught.value) == (
        f"[Errno {errno.EADDRINUSE}] Address already in use: 127.0.0.1:{port}")
    assert server.connections == 0 and not server.stopping


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        server = fastcore.Server(hello_app(), "::1", 0).start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert server.url == f"http://[::1]:{server.port}/"
        client = http.client.HTTPConnection("::1", server.port, timeout=10)
        client.request("GET", "/")
        assert client.getresponse().status == 200
    finally:
        assert server.stop(5)


def test_main_thread_keeps_working_while_the_server_serves(serve):
    with serve(hello_app()) as server:
        done = threading.Event()
        statuses = []

        def fetch_many():
            client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for _ in range(100):
                client.request("GET", "/")
                response = client.getresponse()
                response.read()
                statuses.append(response.status)
            client.close()
            done.set()

        threading.Thread(target=fetch_many).start()
        # Pure-Python work in the main thread, interleaved with the server's.
        work = 0
        deadline = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < deadline:
            work += sum(range(1000))
        assert done.is_set()
        assert statuses == [200] * 100
        assert work > 0


def test_idle_server_leaves_the_gil_free(serve):
    # With the loop blocked in epoll_wait, a thread that needs the GIL runs
    # at full speed: a busy loop gets through as many iterations as it does
    # with no server at all (within a generous factor).
    def iterations(seconds):
        count, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            count += 1
        return count

    baseline = iterations(0.3)
    with serve(hello_app()):
        with_server = iterations(0.3)
    assert with_server > baseline * 0.5


def test_stop_while_requests_are_in_flight_loses_none(serve):
    app = fastcore.App()
    entered = threading.Event()
    release = threading.Event()

    @app.route("/slow")
    def slow(request):
        entered.set()
        assert release.wait(10)
        return b"slow done"

    @app.route("/n/{n}")
    def number(request):
        return request.params["n"].encode()

    server = fastcore.Server(app, "127.0.0.1", 0).start()
    slow_client = RawClient(server.port)
    slow_client.send(request_bytes(path="/slow"))
    assert entered.wait(10)
    # While the handler runs, more clients send complete requests: some
    # pipelined, some on their own connection.
    pipelined = RawClient(server.port)
    pipelined.send(b"".join(request_bytes(path=f"/n/{i}") for i in range(20)))
    singles = [RawClient(server.port) for _ in range(10)]
    for i, client in enumerate(singles):
        client.send(request_bytes(path=f"/n/{100 + i}"))
    stopped = []
    stopper = threading.Thread(target=lambda: stopped.append(server.stop(10)))
    stopper.start()
    # Release the handler only once the stop has been asked for, so that
    # every other request is read and answered while the server stops.
    wait_until(lambda: server.stopping, interval=0.001, what="the stop to begin")
    release.set()
    assert slow_client.response().body == b"slow done"
    for i in range(20):
        assert pipelined.response().body == str(i).encode()
    for i, client in enumerate(singles):
        response = client.response()
        assert response.body == str(100 + i).encode()
    stopper.join(15)
    assert not stopper.is_alive()
    assert stopped == [True]                    # graceful: nothing was reset
    for client in [slow_client, pipelined, *singles]:
        assert client.closed()
        client.close()
    assert server.connections == 0


def test_stop_closes_idle_connections_and_returns_promptly(serve):
    server = fastcore.Server(hello_app(), "127.0.0.1", 0).start()
    idle = [RawClient(server.port) for _ in range(5)]
    for client in idle:
        client.send(request_bytes())
        assert client.response().status == 200
    started = time.monotonic()
    assert server.stop(10)
    assert time.monotonic() - started < 2
    for client in idle:
        assert client.closed()
        client.close()


def test_stop_gives_up_after_its_timeout(serve):
    server = fastcore.Server(hello_app(), "127.0.0.1", 0).start()
    stuck = RawClient(server.port)
    stuck.send(b"GET / HTTP/1.1\r\nHost: x\r\n")         # never completed
    started = time.monotonic()
    assert server.stop(0.3) is False                # it had to reset one
    assert time.monotonic() - started < 3
    assert server.connections == 0
    assert stuck.closed()
    stuck.close()


def test_server_can_be_given_a_socket():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with fastcore.Server(hello_app(), sock=sock) as server:
        assert server.port == port
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        client.request("GET", "/")
        assert client.getresponse().status == 200
        client.close()


def test_closed_connections_stay_closed_while_a_child_holds_their_sockets(serve):
    # An embedding app may fork (subprocess) while connections close. The
    # child's copies of the sockets keep them open, so close() alone would
    # leave them registered with epoll: the server must unregister first.
    import os
    import subprocess
    import sys

    with serve(hello_app()) as server:
        clients = [RawClient(server.port) for _ in range(20)]
        for client in clients:
            client.send(request_bytes())
            assert client.response().status == 200
        sockets = [int(fd) for fd in os.listdir("/proc/self/fd")
                   if os.path.exists(f"/proc/self/fd/{fd}")
                   and os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")]
        child = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"],
            stdin=subprocess.PIPE, pass_fds=sockets)
        try:
            for client in clients:
                client.send(request_bytes(headers=[("Connection", "close")]))
                assert client.response().status == 200
                # The server's FIN arrives although the child still holds
                # the socket: the server shut it down, not only closed it.
                client.finish()
                assert client.ended == "eof" and client.received == b""
            # The server's sockets live on in the child; traffic on them
            # must not reach the connections the server has freed. (Past
            # the client's send, which sends nothing once the server has
            # closed.)
            for client in clients:
                try:
                    client.sock.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                except OSError:
                    pass
            fresh = RawClient(server.port)
            fresh.send(request_bytes())
            assert fresh.response().status == 200
            fresh.close()
        finally:
            child.communicate(b"")


def test_a_stopped_server_says_it_cannot_start_again():
    server = fastcore.Server(hello_app(), port=0).start()
    assert server.stop(5.0)
    for again in (server.start, server.serve_forever, server.listen):
        with pytest.raises(RuntimeError, match="cannot be started again.*new Server"):
            again()
    # The same app serves again from a new Server.
    with fastcore.Server(server.app, port=0) as fresh:
        with urllib.request.urlopen(fresh.url, timeout=10) as reply:
            assert reply.status == 200
