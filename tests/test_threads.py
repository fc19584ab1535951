"""Handler threads (``threads=N``): handlers that wait run on a pool while
the loop goes on serving; answers keep their order; the pool is bounded
(503 with Retry-After beyond max_pending); nothing is left behind when
clients leave or the server stops."""

from __future__ import annotations

import http.client
import logging
import threading
import time

import pytest

import fastcore
from apps import hello_app
from helpers import WAIT, ClientThread, RawClient, request_bytes, wait_until
from server_process import fd_count


def pooled_app(threads: int = 4, **limits) -> tuple[fastcore.App, dict]:
    """hello_app on a pool, with /wait/<name> handlers that block until the
    test sets their event, and what each handler saw."""
    app = hello_app(threads=threads, **limits)
    state: dict = {"events": {}, "threads": {}, "entered": threading.Semaphore(0)}

    @app.route("/wait/{name}")
    def wait(request):
        name = request.params["name"]
        event = state["events"].setdefault(name, threading.Event())
        state["threads"][name] = threading.current_thread().name
        state["entered"].release()
        assert event.wait(WAIT), f"{name} was never released"
        return f"done {name}"

    @app.route("/where")
    def where(request):
        return threading.current_thread().name

    @app.route("/inline", inline=True)
    def inline(request):
        return threading.current_thread().name

    return app, state


def release(state: dict, name: str) -> None:
    state["events"].setdefault(name, threading.Event()).set()


def test_the_loop_answers_while_handlers_wait(serve):
    app, state = pooled_app(threads=4)
    with serve(app) as server:
        waiting = [RawClient(server.port) for _ in range(4)]
        for index, client in enumerate(waiting):
            client.send(request_bytes(path=f"/wait/w{index}"))
        for _ in range(4):
            assert state["entered"].acquire(timeout=WAIT)      # all four threads busy
        # Every thread is blocked, and an inline route is still answered:
        # the loop itself never waits for the pool.
        fast = RawClient(server.port)
        latencies = []
        for _ in range(200):
            started = time.monotonic()
            fast.send(request_bytes(path="/inline"))
            assert fast.response().status == 200
            latencies.append(time.monotonic() - started)
        latencies.sort()
        print(f"beside 4 blocked handlers: p50 {latencies[100] * 1000:.2f} ms, "
              f"p99 {latencies[198] * 1000:.2f} ms")
        for index, client in enumerate(waiting):
            release(state, f"w{index}")
            assert client.response().body == f"done w{index}".encode()
            client.close()
        fast.close()


def test_a_slow_handler_does_not_hold_up_another_route(serve):
    app, state = pooled_app(threads=4)
    with serve(app) as server:
        slow = RawClient(server.port)
        slow.send(request_bytes(path="/wait/slow"))
        assert state["entered"].acquire(timeout=WAIT)
        # The slow handler is still running (it waits for us): another
        # route, on another thread, answers meanwhile.
        other = RawClient(server.port)
        latencies = []
        for _ in range(200):
            started = time.monotonic()
            other.send(request_bytes(path="/where"))
            response = other.response()
            latencies.append(time.monotonic() - started)
            assert response.body.startswith(b"fastcore-handler-")
        latencies.sort()
        print(f"beside a 'slow' handler: p50 {latencies[100] * 1000:.2f} ms, "
              f"p99 {latencies[198] * 1000:.2f} ms")
        release(state, "slow")
        assert slow.response().body == b"done slow"
        slow.close()
        other.close()


def test_pipelined_answers_keep_their_order_when_handlers_finish_out_of_it(serve):
    # The requests arrive in one read, so all are on the pool at once (a
    # connection waiting for its handlers is not read further).
    app, state = pooled_app(threads=4)

    @app.route("/second")
    def second(request):
        # Finishes first, and only then lets the first one finish.
        release(state, "first")
        return b"second"

    with serve(app) as server:
        client = RawClient(server.port)
        client.send(request_bytes(path="/wait/first") + request_bytes(path="/second")
                    + request_bytes(path="/inline") + request_bytes(path="/nowhere"))
        bodies = [client.response().body for _ in range(4)]
        assert bodies[:2] == [b"done first", b"second"]
        assert bodies[2].startswith(b"fastcore:")                # inline, on the loop
        assert bodies[3] == b"404 Not Found\n"
        client.close()


def test_more_pipelined_requests_than_a_connection_may_have_on_the_pool(serve):
    # A connection has at most 16 answers on the pool at once; the rest wait
    # their turn in what was parsed, and all come back in order.
    app = hello_app(threads=2)

    @app.route("/n/{n}")
    def number(request):
        return request.params["n"]

    with serve(app) as server:
        client = RawClient(server.port)
        client.send(b"".join(request_bytes(path=f"/n/{i}") for i in range(100)))
        assert [client.response().body for _ in range(100)] == [
            str(i).encode() for i in range(100)]
        client.close()


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
def test_a_connection_is_not_read_further_while_its_handler_runs(serve, mode):
    app, state = pooled_app(threads=4)
    with serve(app) as server:
        client = RawClient(server.port)
        client.send(request_bytes(path="/wait/a") + request_bytes(path="/where"), mode)
        assert state["entered"].acquire(timeout=WAIT)
        release(state, "a")
        assert client.response().body == b"done a"
        assert client.response().body.startswith(b"fastcore-handler-")
        client.close()


def test_inline_routes_stay_on_the_loop_and_others_use_the_pool(serve):
    app, _ = pooled_app(threads=2)
    with serve(app) as server:
        client = RawClient(server.port)
        client.send(request_bytes(path="/inline") + request_bytes(path="/where"))
        assert client.response().body.startswith(b"fastcore:")
        assert client.response().body.startswith(b"fastcore-handler-")
        client.close()


def test_inline_is_for_exact_paths():
    app = fastcore.App()
    with pytest.raises(ValueError, match="exact paths"):
        app.add_route("/items/{id}", lambda request: b"", inline=True)


def test_past_max_pending_requests_get_503_with_retry_after(serve):
    app, state = pooled_app(threads=2, max_pending=2)
    with serve(app) as server:
        clients = [RawClient(server.port) for _ in range(6)]
        for index, client in enumerate(clients[:2]):
            client.send(request_bytes(path=f"/wait/r{index}"))
        for _ in range(2):
            assert state["entered"].acquire(timeout=WAIT)      # both threads busy
        for index, client in enumerate(clients[2:4]):
            client.send(request_bytes(path=f"/wait/q{index}"))  # queued
        wait_until(lambda: server._loop.connections == 6, what="all connected")
        busy = []
        for client in clients[4:]:
            client.send(request_bytes(path="/where"))
            response = client.response()
            busy.append((response.status, response.header("retry-after")))
        assert busy == [(503, "1"), (503, "1")]
        for name in ("r0", "r1", "q0", "q1"):
            release(state, name)
        assert [c.response().body for c in clients[:4]] == [
            b"done r0", b"done r1", b"done q0", b"done q1"]
        # A refused request leaves its connection usable.
        clients[4].send(request_bytes(path="/where"))
        assert clients[4].response().status == 200
        for client in clients:
            client.close()


def test_a_client_that_leaves_while_its_handler_runs_leaves_nothing_pending(serve):
    app, state = pooled_app(threads=2)
    closed = threading.Event()

    @app.route("/stream")
    def stream(request):
        assert state["events"].setdefault("stream", threading.Event()).wait(WAIT)

        def body():
            try:
                yield b"never read"
            finally:
                closed.set()
        return body()

    with serve(app) as server:
        gone = RawClient(server.port)
        gone.send(request_bytes(path="/wait/gone") + request_bytes(path="/stream"))
        assert state["entered"].acquire(timeout=WAIT)
        gone.reset()
        wait_until(lambda: server.connections == 0, what="the connection closed")
        release(state, "gone")
        release(state, "stream")
        # The pool is still whole and serves the next client.
        client = RawClient(server.port)
        client.send(request_bytes(path="/where"))
        assert client.response().status == 200
        client.close()


def test_streamed_bodies_are_pulled_on_the_pool(serve):
    app, _ = pooled_app(threads=2)

    @app.route("/gen")
    def gen(request):
        def chunks():
            for _ in range(3):
                yield threading.current_thread().name + "\n"
        return chunks()

    with serve(app) as server:
        client = RawClient(server.port, streaming=True)
        client.send(request_bytes(path="/gen"))
        names = client.response().body.decode().split()
        assert len(names) == 3 and all(n.startswith("fastcore-handler-") for n in names)
        client.close()


def test_stop_waits_for_running_handlers_and_answers_every_request():
    app, state = pooled_app(threads=4)
    server = fastcore.Server(app, port=0, shutdown_timeout=WAIT).start()
    clients = [RawClient(server.port) for _ in range(8)]
    for index, client in enumerate(clients):
        client.send(request_bytes(path=f"/wait/s{index}"))
    for _ in range(4):
        assert state["entered"].acquire(timeout=WAIT)
    stopped = []
    stopper = threading.Thread(target=lambda: stopped.append(server.stop()))
    stopper.start()
    wait_until(lambda: server.stopping, what="the stop to begin")
    for index in range(8):
        release(state, f"s{index}")
    for index, client in enumerate(clients):
        response = client.response()
        assert response.body == f"done s{index}".encode()
        assert response.header("connection") == "close"
        assert client.closed()
    stopper.join(WAIT * 2)
    assert stopped == [True]
    assert server._loop.handler_threads == 0            # the pool's threads ended


def test_keyboard_interrupt_on_the_pool_answers_500_then_stops(caplog):
    app = hello_app(threads=2)

    @app.route("/quit")
    def quitting(request):
        raise KeyboardInterrupt

    server = fastcore.Server(app, port=0).start()
    client = RawClient(server.port)
    with caplog.at_level(logging.ERROR, logger="fastcore"):
        client.send(request_bytes(path="/quit"))
        assert client.response().status == 500
    assert client.closed()
    server._thread.join(WAIT)
    assert not server._thread.is_alive()


def test_a_wsgi_app_on_the_pool_runs_concurrently_and_says_so(serve):
    flask = pytest.importorskip("flask")
    barrier = threading.Barrier(8, timeout=WAIT)
    seen = []
    flask_app = flask.Flask(__name__)

    @flask_app.route("/query")
    def query():
        # Stands for a 10 ms database call; all 8 must be in here at once to
        # pass the barrier, which only a pool of 8 threads allows.
        seen.append(flask.request.environ["wsgi.multithread"])
        time.sleep(0.01)
        barrier.wait()
        return "rows"

    with serve(flask_app, threads=8) as server:
        responses = []

        def fetch():
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
            connection.request("GET", "/query")
            response = connection.getresponse()
            responses.append((response.status, response.read()))
            connection.close()

        class Fetch(ClientThread):
            def drive(self) -> None:
                fetch()

        threads = [Fetch() for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
            assert thread.error is None, thread.error
        assert responses == [(200, b"rows")] * 8
        assert seen == [True] * 8


@pytest.mark.slow
def test_nothing_leaks_after_many_requests_on_the_pool():
    import os
    count = int(os.environ.get("FASTCORE_LEAK_REQUESTS", 20_000))
    app, _ = pooled_app(threads=8)
    with fastcore.Server(app, port=0) as server:
        client = RawClient(server.port)
        for _ in range(500):                       # warm up caches and freelists
            client.send(request_bytes(path="/where"))
            client.response()
        threads_before = threading.active_count()
        fds_before = fd_count()
        import tracemalloc
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        batch = request_bytes(path="/where") * 50
        for _ in range(count // 50):
            client.send(batch)
            client.read_responses(50)
            client.received.clear()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert threading.active_count() == threads_before
        assert fd_count() == fds_before
        assert after - before < 256 * 1024, f"{after - before} bytes grew"
        client.close()
