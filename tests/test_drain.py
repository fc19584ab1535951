"""Draining: readiness fails at once, new connections are still taken for
the shutdown delay, then the listener closes, keep-alive answers say
``Connection: close``, and every request accepted before is answered. In
process (Server.drain) and for SIGTERM to ``fastcore run`` under load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import fastcore
from helpers import RawClient, free_port, refuses_connections, request_bytes, wait_until

APP = textwrap.dedent("""
    import time
    import fastcore

    app = fastcore.App()

    @app.route("/")
    def index(request):
        return b"hello"

    @app.route("/slow")
    def slow(request):
        time.sleep(float(request.args.get("s", "0.5")))
        return b"slow"
""")


def test_drain_keeps_accepting_for_the_delay_then_closes_the_listener():
    app = fastcore.App()

    @app.route("/")
    def index(request):
        return b"hello"

    server = fastcore.Server(app, port=0, ready_path="/readyz")
    server.start()
    try:
        idle = RawClient(server.port)               # keep-alive, between requests
        idle.send(request_bytes())
        assert idle.response().header("connection") is None
        began = time.monotonic()
        server.drain(delay=0.5)
        # During the delay: new connections are served, keep-alive goes on.
        with RawClient(server.port) as fresh:
            fresh.send(request_bytes(path="/readyz") + request_bytes())
            assert fresh.response().status == 503
            assert fresh.response().header("connection") is None
        idle.send(request_bytes())
        assert idle.response().header("connection") is None
        wait_until(lambda: refuses_connections(server.port), what="the listener to close")
        assert time.monotonic() - began >= 0.5
        # Then the idle keep-alive connection is closed, a request in
        # flight is answered with Connection: close.
        assert idle.closed()
        assert server.stop(5.0)
    finally:
        server.stop(1.0)


def test_a_request_accepted_during_the_delay_is_answered_after_the_listener_closes(tmp_path):
    (tmp_path / "drainapp.py").write_text(APP)
    import importlib.util
    spec = importlib.util.spec_from_file_location("drainapp", tmp_path / "drainapp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = fastcore.Server(module.app, port=0, threads=2)
    server.start()
    try:
        with RawClient(server.port) as client:
            server.drain(delay=0.2)
            client.send(request_bytes(path="/slow?s=0.6"))
            wait_until(lambda: refuses_connections(server.port), what="the listener to close")
            response = client.response()
            assert (response.status, response.body) == (200, b"slow")
            assert response.header("connection") == "close"
        assert server.stop(5.0)
    finally:
        server.stop(1.0)


def test_stop_during_the_delay_stops_at_once():
    server = fastcore.Server(fastcore.App(), port=0, shutdown_delay=60.0)
    server.start()
    server.drain()
    began = time.monotonic()
    assert server.stop(5.0)
    assert time.monotonic() - began < 5.0


# -- SIGTERM under steady load ----------------------------------------------------

class Load(threading.Thread):
    """Requests in a loop, a new connection each, until the server refuses
    connections: what each one got, and when."""

    def __init__(self, port: int, path: str = "/") -> None:
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        # (began, ended, outcome, status) of each request
        self.results: list[tuple[float, float, str, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            when = time.monotonic()
            try:
                client = RawClient(self.port, timeout=5)
            except ConnectionRefusedError:
                self.results.append((when, time.monotonic(), "refused", 0))
                break
            try:
                client.send(request_bytes(path=self.path))
                status = client.response().status
                self.results.append((when, time.monotonic(), "answered", status))
            except Exception as exc:                         # counted as a failure
                self.results.append((when, time.monotonic(), f"failed: {exc!r}", 0))
            finally:
                client.close()
        self.done.set()


def test_sigterm_with_shutdown_delay_under_steady_load(tmp_path):
    (tmp_path / "drainapp.py").write_text(APP)
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "fastcore", "run", "drainapp:app", "--port", str(port),
         "--health-path", "/healthz", "--ready-path", "/readyz", "--shutdown-delay", "1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert "http://" in process.stdout.readline()
        workers = [Load(port) for _ in range(3)]
        probe = Load(port, "/readyz")
        for thread in (*workers, probe):
            thread.start()
        wait_until(lambda: all(len(t.results) >= 20 for t in workers), what="steady load")
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        for thread in (*workers, probe):
            assert thread.done.wait(30), "the load did not end"
        _, err = process.communicate(timeout=15)
        assert process.returncode == 0, err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    results = [r for t in workers for r in t.results]
    failures = [r for r in results if r[2] not in ("answered", "refused")]
    assert failures == [], failures
    assert all(status == 200 for _, _, outcome, status in results if outcome == "answered")
    closed = min(ended for t in (*workers, probe) for _, ended, outcome, _ in t.results
                 if outcome == "refused")
    # The listener stayed open for the delay, and served new connections
    # throughout it.
    assert closed - sent >= 1.0
    during = [began for began, _, outcome, _ in results if outcome == "answered"
              and sent + 0.2 < began < sent + 0.9]
    assert len(during) >= 3, "no new connection was served during the delay"
    # Readiness: 200 before the signal, 503 soon after it until the close.
    statuses = [(began, ended, status) for began, ended, outcome, status in probe.results
                if outcome == "answered"]
    assert {s for _, ended, s in statuses if ended < sent} == {200}
    after = [s for began, _, s in statuses if began > sent + 0.1]
    assert after and set(after) == {503}
