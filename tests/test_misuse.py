"""Misuse by the embedding program or by a handler never crashes the server
or kills its loop: each case is answered, refused with a clear error, or
stops the server gracefully, and the other connections go on."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time

import pytest

import fastcore
from apps import hello_app
from helpers import WAIT, RawClient, request_bytes


# -- one loop, one thread ------------------------------------------------------

def test_serve_forever_after_start_is_a_runtime_error():
    with fastcore.Server(hello_app(), port=0) as server:
        with pytest.raises(RuntimeError, match="already serving"):
            server.serve_forever()
        with pytest.raises(RuntimeError, match="already serving"):
            server.start()
        client = RawClient(server.port)
        client.send(request_bytes())
        assert client.response().status == 200
        client.close()


def test_a_second_thread_cannot_run_a_running_loop():
    server = fastcore.Server(hello_app(), port=0)
    server.listen()
    loop = server._loop
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    client = RawClient(server.port)
    # Traffic while the second thread tries: the loop must not be entered
    # twice (that was a segfault within 2 s).
    for _ in range(50):
        client.send(request_bytes())
        with pytest.raises(RuntimeError, match="already running"):
            loop.run()
        assert client.response().status == 200
    loop.request_stop(5.0)
    thread.join(WAIT)
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="already run"):
        loop.run()
    client.close()


# -- what a handler may raise ----------------------------------------------------

class Custom(BaseException):
    pass


@pytest.mark.parametrize("error", [GeneratorExit, asyncio.CancelledError, Custom])
def test_a_base_exception_from_a_handler_is_a_500_and_the_loop_goes_on(serve, error, caplog):
    app = hello_app()

    @app.route("/raise")
    def raising(request):
        raise error("from the handler")

    with serve(app) as server:
        other = RawClient(server.port)
        other.send(request_bytes())
        assert other.response().status == 200
        client = RawClient(server.port)
        with caplog.at_level(logging.ERROR, logger="fastcore"):
            client.send(request_bytes(path="/raise") + request_bytes())
            assert client.response().status == 500
            assert client.response().status == 200      # the same connection goes on
        record = next(r for r in caplog.records if r.name == "fastcore")
        assert record.exc_info[0] is error
        other.send(request_bytes())                     # so do the others
        assert other.response().status == 200
        client.close()
        other.close()


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_or_exit_from_a_handler_answers_500_then_stops(error):
    app = hello_app()

    @app.route("/quit")
    def quitting(request):
        raise error()

    server = fastcore.Server(app, port=0, shutdown_timeout=5.0).start()
    idle = RawClient(server.port)
    idle.send(request_bytes())
    assert idle.response().status == 200
    client = RawClient(server.port)
    client.send(request_bytes(path="/quit"))
    assert client.response().status == 500
    # Then the server stops by itself, gracefully: idle connections are
    # closed and the loop returns without resetting any.
    assert client.closed() and idle.closed()
    server._thread.join(WAIT)
    assert not server._thread.is_alive()
    assert server.error is None
    assert server.stop() is True


def test_stop_from_inside_a_handler_begins_the_drain_and_returns_at_once():
    app = hello_app()
    returned = []

    @app.route("/stop")
    def stop(request):
        started = time.monotonic()
        result = server.stop()
        returned.append((result, time.monotonic() - started))
        return b"stopping"

    # A long shutdown timeout: a stop() that waited for the loop (its own
    # thread) would freeze the handler for all of it.
    server = fastcore.Server(app, port=0, shutdown_timeout=60.0).start()
    client = RawClient(server.port)
    client.send(request_bytes(path="/stop"))
    response = client.response()
    assert response.status == 200 and response.body == b"stopping"
    assert client.closed()                              # then the drain closed it
    server._thread.join(WAIT)
    assert not server._thread.is_alive()
    (result, waited), = returned
    assert result is False and waited < WAIT


def test_stop_from_a_handler_under_serve_forever(tmp_path):
    app = hello_app()

    @app.route("/stop")
    def stop(request):
        server.stop()
        return b"bye"

    server = fastcore.Server(app, port=0, shutdown_timeout=60.0)
    server.listen()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = RawClient(server.port)
    client.send(request_bytes(path="/stop"))
    assert client.response().body == b"bye"
    thread.join(WAIT)
    assert not thread.is_alive()
    client.close()


# -- what a handler may return ---------------------------------------------------

@pytest.fixture
def special_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    unix = tmp_path / "socket"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(unix))
    yield {"fifo": str(fifo), "socket": str(unix), "device": "/dev/null",
           "directory": str(tmp_path)}
    listener.close()


@pytest.mark.parametrize("kind", ["fifo", "socket", "device", "directory"])
def test_a_file_response_for_anything_but_a_regular_file_is_404(serve, special_files, kind):
    app = hello_app()

    @app.route("/file")
    def file(request):
        return fastcore.FileResponse(special_files[kind])

    with serve(app) as server:
        # Opening a FIFO used to block the loop until a writer came: the
        # other connection is answered meanwhile, then the 404.
        client = RawClient(server.port)
        client.send(request_bytes(path="/file") + request_bytes())
        assert client.response().status == 404
        assert client.response().status == 200
        client.close()


def test_a_response_changed_after_it_was_built_is_sent_as_it_now_is(serve):
    app = hello_app()

    @app.route("/changed")
    def changed(request):
        response = fastcore.Response(b"first")
        response.status = 404
        response.headers = {"X-Changed": "yes"}
        response.body = b"a longer body than the first"
        response.content_type = "text/plain"
        return response

    @app.route("/emptied")
    def emptied(request):
        response = fastcore.Response(b"")
        response.status = 204
        return response

    with serve(app) as server:
        client = RawClient(server.port)
        client.send(request_bytes(path="/changed") + request_bytes(path="/emptied")
                    + request_bytes())
        first = client.response()
        assert first.status == 404
        assert first.body == b"a longer body than the first"
        assert first.header("content-length") == str(len(first.body))
        assert first.header("x-changed") == "yes"
        assert first.header("content-type") == "text/plain"
        second = client.response()
        assert second.status == 204 and second.header("content-length") is None
        # The kept-alive connection is still in step.
        assert client.response().body == b"<h1>Hello, World!</h1>"
        client.close()


@pytest.mark.parametrize("change", [
    lambda r: setattr(r, "body", None),
    lambda r: setattr(r, "body", 42),
    lambda r: setattr(r, "status", 204),           # it has a body
    lambda r: setattr(r, "status", 99),
    lambda r: setattr(r, "status", "x"),
    lambda r: setattr(r, "headers", {"X": "a\r\nb"}),
    lambda r: setattr(r, "headers", {"Content-Length": "1"}),
])
def test_a_bad_change_to_a_response_raises_and_changes_nothing(change):
    response = fastcore.Response(b"body", headers={"X-A": "1"})
    before = (response.status, response.body, response.headers, response._head)
    with pytest.raises((TypeError, ValueError)):
        change(response)
    assert (response.status, response.body, response.headers, response._head) == before


def test_a_broken_response_reaching_the_server_is_a_500(serve):
    class Unbuilt(fastcore.Response):
        def __init__(self):                   # never calls Response.__init__
            pass

    app = hello_app()

    @app.route("/bad-body")
    def bad_body(request):
        response = fastcore.Response(b"x")
        object.__setattr__(response, "_body", None)   # behind the setter's back
        return response

    @app.route("/unbuilt")
    def unbuilt(request):
        return Unbuilt()

    with serve(app) as server:
        client = RawClient(server.port)
        client.send(request_bytes(path="/bad-body") + request_bytes(path="/unbuilt")
                    + request_bytes())
        assert client.response().status == 500
        assert client.response().status == 500
        assert client.response().status == 200
        client.close()


def test_a_500_to_head_has_no_body(serve):
    with serve(hello_app()) as server:
        client = RawClient(server.port)
        client.send(request_bytes("HEAD", "/boom") + request_bytes())
        failed = client.response(head=True)
        assert failed.status == 500
        assert failed.header("content-length") == str(len(b"500 Internal Server Error\n"))
        # No body followed the HEAD response: the next bytes are the next
        # response.
        assert client.response().body == b"<h1>Hello, World!</h1>"
        client.close()
