"""fastcore.testing.Client: requests through the real parser and engine,
in process, over a socketpair the loop adopts; no port is bound."""

from __future__ import annotations

import io
import socket
import threading

import pytest

import fastcore
import fastcore.testing
from apps import hello_app


def test_it_goes_through_the_real_engine_without_a_port(client):
    browser = client(hello_app())
    reply = browser.get("/")
    assert (reply.status, reply.reason, reply.body) == (200, "OK", b"<h1>Hello, World!</h1>")
    # The engine's own fields, written by the engine.
    assert reply.headers["server"] == "fastcore" and reply.headers["date"].endswith(" GMT")
    assert reply.headers["content-length"] == str(len(reply.body))


def test_limits_apply_as_on_a_server(client):
    browser = client(hello_app(), max_header_count=5, max_body=10)
    assert browser.get("/", headers=[(f"X-{i}", "v") for i in range(4)]).status == 200
    refused = browser.get("/", headers=[(f"X-{i}", "v") for i in range(10)])
    assert refused.status == 431 and refused.headers["connection"] == "close"
    assert browser.post("/echo", data=b"x" * 11).status == 413
    # A new connection after each refusal.
    assert browser.post("/echo", data=b"x" * 10).body == b"x" * 10


def test_one_connection_is_kept_alive_and_replaced_when_closed(client):
    browser = client(hello_app())
    first = browser.get("/")
    kept = browser._sock
    for _ in range(5):
        assert browser.get("/").status == 200
    assert first.headers.get("connection") is None and browser._sock is kept
    assert browser._loop.connections == 1
    last = browser.get("/", headers={"Connection": "close"})
    assert last.headers["connection"] == "close"
    assert browser.get("/").status == 200          # on a new connection


def test_head_handler_errors_and_methods(client, caplog):
    browser = client(hello_app())
    head = browser.head("/")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(b"<h1>Hello, World!</h1>"))
    assert browser.get("/boom").status == 500
    assert "boom" in caplog.text
    assert browser.delete("/").status == 405
    assert browser.options("*").status == 204
    assert browser.put("/echo", data="é").body == "é".encode()
    assert browser.patch("/").status == 405


def test_query_paths_headers_and_client_address(client):
    app = fastcore.App()
    app.add_route("/{name}", lambda request: {
        "name": request.params["name"], "args": request.args.multi_items(),
        "client": list(request.client), "host": request.host,
        "agent": request.headers.get("user-agent")})
    browser = client(app)
    reply = browser.get("/café?x=1", query={"y": "2 3"}, headers={"User-Agent": "tests"})
    assert reply.json() == {"name": "café", "args": [["x", "1"], ["y", "2 3"]],
                            "client": ["127.0.0.1", 50000], "host": "testserver",
                            "agent": "tests"}
    other = fastcore.testing.Client(app, host="example.org", client=("10.1.2.3", 4))
    try:
        assert other.get("/x").json()["client"] == ["10.1.2.3", 4]
        assert other.get("/x").json()["host"] == "example.org"
    finally:
        other.close()


def test_files_from_file_objects(client):
    pytest.importorskip("multipart")
    app = fastcore.App()
    app.add_route("/up", lambda request: {name: f.read().decode()
                                          for name, f in request.files.items()},
                  methods=["POST"])
    reply = client(app).post("/up", files={"a": ("a.txt", io.BytesIO(b"from a file")),
                                           "b": "plain text"})
    assert reply.json() == {"a": "from a file", "b": "plain text"}


def test_body_arguments_that_do_not_go_together():
    with pytest.raises(ValueError):
        fastcore.testing._encode_body(b"x", {"a": 1}, None)
    with pytest.raises(ValueError):
        fastcore.testing._encode_body(b"x", None, {"f": b"x"})


def test_app_test_client_and_closing(tmp_path):
    with hello_app().test_client() as browser:
        assert browser.get("/").status == 200
        thread = browser._thread
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="stopped"):
        browser.get("/")


def test_a_handler_that_stops_answering_is_a_timeout():
    app = fastcore.App()
    release = threading.Event()
    app.add_route("/hang", lambda request: release.wait(5) and b"late")
    browser = fastcore.testing.Client(app, timeout=0.2)
    try:
        with pytest.raises(TimeoutError, match="no response"):
            browser.get("/hang")
    finally:
        release.set()
        browser.close()


def test_the_server_end_is_a_unix_socketpair():
    # No port: nothing listens, and no TCP socket is made.
    made = []
    real = socket.socket.bind

    def bind(self, address):
        made.append(address)
        return real(self, address)

    socket.socket.bind = bind                       # type: ignore[method-assign]
    try:
        with hello_app().test_client() as browser:
            assert browser.get("/").status == 200
    finally:
        socket.socket.bind = real                   # type: ignore[method-assign]
    assert made == []
