"""Health and readiness paths that the engine answers itself: 200 while it
serves; readiness 503 once a drain has begun; never a handler."""

from __future__ import annotations

import pytest

import fastcore
from helpers import RawClient, request_bytes, serving


def recording_app():
    """Every request that reaches Python is recorded: a route at the health
    path and the fallback for anything else."""
    app = fastcore.App()
    app.seen = []

    @app.route("/healthz")
    def shadowed(request):
        app.seen.append(request.path)
        return b"the handler"

    @app.route("/")
    def index(request):
        app.seen.append(request.path)
        return b"hello"

    return app


def get(port, path, method="GET"):
    with RawClient(port) as client:
        client.send(request_bytes(method, path))
        return client.response(head=method == "HEAD")


@pytest.mark.parametrize("threads", [0, 2])
def test_health_is_answered_without_a_handler(threads):
    app = recording_app()
    with serving(app, health_path="/healthz", threads=threads) as server:
        response = get(server.port, "/healthz")
        assert (response.status, response.body) == (200, b"ok\n")
        assert response.header("content-type") == "text/plain; charset=utf-8"
        assert response.header("cache-control") == "no-store"
        head = get(server.port, "/healthz", "HEAD")
        assert (head.status, head.body, head.header("content-length")) == (200, b"", "3")
    assert app.seen == []


def test_health_keeps_the_connection_alive_and_in_order():
    with serving(recording_app(), health_path="/healthz", ready_path="/ready") as server:
        with RawClient(server.port) as client:
            client.send(request_bytes(path="/healthz") + request_bytes()
                        + request_bytes(path="/ready"))
            bodies = [client.response().body for _ in range(3)]
            assert bodies == [b"ok\n", b"hello", b"ok\n"]
            assert client.is_open()


def test_other_methods_and_queries_go_to_the_app():
    app = recording_app()
    with serving(app, health_path="/healthz") as server:
        assert get(server.port, "/healthz", "POST").status == 405
        assert get(server.port, "/healthz?verbose=1").body == b"the handler"
    assert app.seen == ["/healthz"]


@pytest.mark.parametrize("threads", [0, 2])
def test_readiness_fails_once_draining_and_health_does_not(threads):
    server = fastcore.Server(recording_app(), port=0, health_path="/healthz",
                             ready_path="/readyz", shutdown_delay=30.0, threads=threads)
    server.start()
    try:
        assert server.ready
        assert get(server.port, "/readyz").status == 200
        server.drain()                                # the 30 s delay begins
        assert not server.ready
        response = get(server.port, "/readyz")
        assert (response.status, response.body) == (503, b"draining\n")
        assert get(server.port, "/healthz").status == 200
        assert get(server.port, "/").body == b"hello"
    finally:
        assert server.stop(5.0)


def test_stop_fails_readiness_too():
    server = fastcore.Server(recording_app(), port=0, ready_path="/readyz")
    server.start()
    with RawClient(server.port) as client:
        client.send(request_bytes(path="/readyz"))
        assert client.response().status == 200
        assert server.stop(5.0)
    assert not server.ready


@pytest.mark.parametrize("path", ["healthz", "/a?b", "/a b", "/%41", "/é", "/a\n"])
def test_a_probe_path_is_a_plain_path(path):
    with pytest.raises(ValueError, match="plain path"):
        fastcore.Server(recording_app(), port=0, health_path=path)


def test_the_two_paths_differ():
    with pytest.raises(ValueError, match="both"):
        fastcore.Server(recording_app(), port=0, health_path="/h", ready_path="/h")
