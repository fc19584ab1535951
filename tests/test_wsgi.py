"""WSGI (PEP 3333) applications served by fastcore over real sockets: the
response rules (start_response early, late and with exc_info, write(),
declared lengths, hop-by-hop and invalid fields, HEAD/204/304, failures
before and after the head, close() of the iterable, file_wrapper by
sendfile), the environ (required keys, PATH_INFO, headers, wsgi.input,
wsgi.errors), mounting under a prefix, and the environ compared with
wsgiref.simple_server's for the same requests.

Every application that does nothing PEP 3333 forbids runs inside
``wsgiref.validate.validator``, which checks both sides of the interface
(the environ and start_response the server gives, the calls the
application makes) and raises AssertionError, which the server answers
500: each test checks its exact status, so a validator complaint fails it.
An application goes unvalidated only where the validator would get in the
way of what is tested (the test says why).
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import re
import sys
import threading
import wsgiref.simple_server
import wsgiref.validate
from collections.abc import Iterator

import pytest

import fastcore
from apps import wsgi_file_app
from conftest import require_tool
from helpers import WAIT, RawClient, parse_one, request_bytes, wait_until
from server_process import ServerProcess, fd_count, traced

validator = wsgiref.validate.validator

# What the validator only warns about (a missing QUERY_STRING, an odd
# status line) fails the test too.
pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")

TEXT = ("Content-Type", "text/plain")
MODES = ["whole", "bytewise"]


def exchange(client: RawClient, method: str = "GET", path: str = "/", *,
             headers: list[tuple[str, str]] | None = None, body: bytes = b"",
             version: str = "1.1", mode: str = "whole"):
    client.send(request_bytes(method, path, headers=headers, body=body, version=version), mode)
    return client.response(head=method == "HEAD")


def fastcore_errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("fastcore") and r.levelno >= logging.ERROR]


class Closing:
    """An application's iterable with a close() that records the call (in
    `closed`, and as `name` in the list `log` if given); it yields
    `chunks`, then raises `fail` if given, or `forever` repeats its last
    chunk without end."""

    def __init__(self, chunks: list[bytes], fail: BaseException | None = None,
                 forever: bool = False, log: list[str] | None = None, name: str = "") -> None:
        self.chunks, self.fail, self.forever = chunks, fail, forever
        self.log, self.name = log, name
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        yield from itertools.cycle(self.chunks[-1:]) if self.forever else self.chunks
        if self.fail is not None:
            raise self.fail

    def close(self) -> None:
        self.closed.set()
        if self.log is not None:
            self.log.append(self.name)


def app_of(body, headers: list[tuple[str, str]] | None = None):
    """A validated application answering 200, with `headers` (else a
    Content-Type), and the iterable `body`."""
    @validator
    def app(environ, start_response):
        start_response("200 OK", list(headers if headers is not None else [TEXT]))
        return body
    return app


# ---------------------------------------------------------------------------
# Bodies: lists, generators, start_response late, write()
# ---------------------------------------------------------------------------


def test_a_list_body_with_and_without_content_length(serve, raw):
    @validator
    def declared(environ, start_response):
        start_response("200 OK", [TEXT, ("Content-Length", "11")])
        return [b"hello ", b"world"]

    def plain(environ, start_response):
        # Unvalidated: the validator hands the server an iterator in place
        # of the list, and this is about the list itself (the whole body
        # known at once, sent with a Content-Length of its own).
        start_response("200 OK", [TEXT])
        return [b"hello ", b"", b"world"]

    @validator
    def validated_plain(environ, start_response):
        start_response("200 OK", [TEXT])
        return [b"hello ", b"world"]

    @validator
    def empty(environ, start_response):
        start_response("200 OK", [TEXT])
        return []

    for app, framing in ((declared, "length"), (plain, "length"), (validated_plain, "chunked")):
        with serve(app) as server:
            client = raw(server.port, streaming=True)
            for _ in range(2):                   # and the connection goes on
                response = exchange(client)
                assert (response.status, response.body) == (200, b"hello world")
                assert response.framing == framing, app
                assert response.header("content-type") == "text/plain"
                if framing == "length":
                    assert response.header("content-length") == "11"
    with serve(empty) as server:
        response = exchange(raw(server.port))
        assert (response.status, response.body, response.header("content-length")) == (200, b"", "0")


def test_a_generator_streams_chunked_on_1_1_and_close_delimited_on_1_0(serve, raw):
    @validator
    def app(environ, start_response):
        start_response("200 OK", [TEXT])
        yield b"one,"
        yield b""                            # skipped: it would end a chunked body
        yield b"two,"
        yield b"three"

    with serve(app) as server:
        client = raw(server.port, streaming=True)
        # Pipelined: each streamed response whole, in order, before the next.
        client.send(request_bytes() * 3)
        for response in client.read_responses(3):
            assert (response.status, response.framing, response.body) == (
                200, "chunked", b"one,two,three")
            assert not response.closes
        old = raw(server.port, streaming=True)
        old.send(request_bytes(version="1.0"))
        old.finish()
        response = old.response()
        assert (response.framing, response.body, response.closes) == ("close", b"one,two,three", True)
        assert old.ended == "eof"


def test_start_response_called_late_inside_the_iterable(serve, raw):
    @validator
    def late(environ, start_response):
        def body():
            # Before the first chunk: the server has not sent anything yet.
            start_response("201 Created", [TEXT, ("X-Late", "yes")])
            yield b"made"
        return body()

    def after_empty_chunks(environ, start_response):
        # Unvalidated: the validator insists on start_response before the
        # first chunk of all, while PEP 3333 only asks for it before the
        # first non-empty one.
        def body():
            yield b""
            yield b""
            start_response("202 Accepted", [TEXT])
            yield b"queued"
        return body()

    @validator
    def replaced_before_the_first_chunk(environ, start_response):
        start_response("200 OK", [TEXT])

        def body():
            yield b""
            try:
                raise LookupError("not found after all")
            except LookupError:
                # Nothing was sent: the response may still be replaced.
                start_response("404 Not Found", [TEXT], sys.exc_info())
            yield b"gone"
        return body()

    cases = ((late, 201, b"made"), (after_empty_chunks, 202, b"queued"),
             (replaced_before_the_first_chunk, 404, b"gone"))
    for app, status, body in cases:
        with serve(app) as server:
            client = raw(server.port, streaming=True)
            for _ in range(2):
                response = exchange(client)
                assert (response.status, response.body) == (status, body)
            assert response.header("x-late") == ("yes" if app is late else None)


def test_the_write_callable_alone_and_mixed_with_an_iterable(serve, raw):
    @validator
    def alone(environ, start_response):
        write = start_response("200 OK", [TEXT])
        write(b"written ")
        write(b"")
        write(b"only")
        return []

    @validator
    def then_a_list(environ, start_response):
        write = start_response("200 OK", [TEXT])
        write(b"first ")
        return [b"then ", b"the list"]

    @validator
    def inside_the_iterable(environ, start_response):
        write = start_response("200 OK", [TEXT])

        def body():
            write(b"a")
            yield b"b"
            write(b"c")
            write(b"d")
            yield b"e"
            write(b"f")                      # after the last chunk
        return body()

    @validator
    def with_a_length(environ, start_response):
        write = start_response("200 OK", [TEXT, ("Content-Length", "6")])
        write(b"abc")
        return [b"def"]

    cases = ((alone, b"written only"), (then_a_list, b"first then the list"),
             (inside_the_iterable, b"abcdef"), (with_a_length, b"abcdef"))
    for app, body in cases:
        with serve(app) as server:
            client = raw(server.port, streaming=True)
            for _ in range(2):
                response = exchange(client)
                assert (response.status, response.body) == (200, body), app


# ---------------------------------------------------------------------------
# exc_info and failures
# ---------------------------------------------------------------------------


def test_exc_info_before_the_head_is_sent_replaces_the_response(serve, raw, caplog):
    @validator
    def app(environ, start_response):
        start_response("200 OK", [TEXT, ("X-Dropped", "1")])
        try:
            raise ValueError("the page failed")
        except ValueError:
            start_response("500 Internal Server Error",
                           [TEXT, ("Content-Length", "12")], sys.exc_info())
            return [b"custom error"]

    with serve(app) as server:
        client = raw(server.port, streaming=True)
        for _ in range(2):
            response = exchange(client)
            assert (response.status, response.body) == (500, b"custom error")
            assert response.header("x-dropped") is None
    assert fastcore_errors(caplog) == []     # the application handled it


def test_exc_info_after_write_reraises(serve, raw, caplog):
    # PEP 3333: write() sends the head (a server may buffer, but it may not
    # take the response back), so exc_info after it re-raises. Here nothing
    # has reached the socket yet: the engine's own 500, and nothing of the
    # application's first attempt.
    @validator
    def app(environ, start_response):
        write = start_response("200 OK", [TEXT])
        write(b"partial ")
        try:
            raise ValueError("failed after write()")
        except ValueError:
            start_response("500 Internal Server Error", [TEXT], sys.exc_info())
        return [b"error page"]

    with caplog.at_level(logging.ERROR, logger="fastcore"), serve(app) as server:
        client = raw(server.port, streaming=True)
        response = exchange(client)
        assert response.status == 500
        assert b"partial" not in response.body and b"error page" not in response.body
    failures = fastcore_errors(caplog)
    assert len(failures) == 1 and failures[0].exc_info[0] is ValueError


def test_exc_info_after_the_head_is_sent_reraises_and_closes(serve, raw, caplog):
    body_closed = threading.Event()

    @validator
    def app(environ, start_response):
        start_response("200 OK", [TEXT])

        def body():
            try:
                yield b"part one"
                try:
                    raise ValueError("failed while streaming")
                except ValueError:
                    start_response("500 Internal Server Error", [TEXT], sys.exc_info())
                yield b"never sent"
            finally:
                body_closed.set()
        return body()

    with caplog.at_level(logging.ERROR, logger="fastcore"), serve(app) as server:
        client = raw(server.port, streaming=True)
        client.send(request_bytes() + request_bytes())
        head = client.read_head()
        assert head.status == 200 and head.header("transfer-encoding") == "chunked"
        received = client.finish()
        # Part one arrived, the last chunk never did, and nothing answered
        # the second request: the client can tell the body is incomplete.
        assert b"part one" in received and b"never sent" not in received
        assert parse_one(received, streaming=True, closed=True)[0] is None
        assert not received.endswith(b"0\r\n\r\n")
        assert received.count(b"HTTP/1.1") == 1
        assert client.ended == "eof"
        assert body_closed.wait(WAIT)
    failures = fastcore_errors(caplog)
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert failures[0].exc_info[0] is ValueError


def test_an_exception_before_the_response_starts_is_a_500_with_a_traceback(serve, raw, caplog):
    @validator
    def at_once(environ, start_response):
        raise KeyError("in the application")

    @validator
    def in_the_first_chunk(environ, start_response):
        def body():
            start_response("200 OK", [TEXT])
            raise KeyError("in the body")
            yield b"unreachable"
        return body()

    started = Closing([b""], fail=KeyError("after an empty chunk"))
    after_start = app_of(started)
    for app in (at_once, in_the_first_chunk, after_start):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="fastcore"), serve(app) as server:
            client = raw(server.port, streaming=True)
            for method in ("GET", "HEAD"):
                response = exchange(client, method)
                assert response.status == 500
                assert not response.closes           # the connection goes on
        failures = fastcore_errors(caplog)
        assert len(failures) == 2
        assert all(f.exc_info is not None and f.exc_info[0] is KeyError for f in failures)
    assert started.closed.is_set()


def test_an_exception_mid_stream_closes_without_the_last_chunk(serve, raw, caplog):
    body = Closing([b"chunk one ", b"chunk two "], fail=RuntimeError("mid-stream"))
    app = app_of(body)
    with caplog.at_level(logging.ERROR, logger="fastcore"), serve(app) as server:
        client = raw(server.port, streaming=True)
        client.send(request_bytes())
        assert client.read_head().status == 200
        received = client.finish()
        assert b"chunk one" in received and b"chunk two" in received
        assert not received.endswith(b"0\r\n\r\n")
        assert parse_one(received, streaming=True, closed=True)[0] is None
        assert client.ended == "eof"
        assert body.closed.wait(WAIT)
    failures = fastcore_errors(caplog)
    assert len(failures) == 1 and failures[0].exc_info[0] is RuntimeError


# ---------------------------------------------------------------------------
# Declared lengths
# ---------------------------------------------------------------------------


def length_app(declared: int, chunks: list[bytes], as_list: bool):
    # Unvalidated when as_list: the list itself is the complete-body path.
    def app(environ, start_response):
        start_response("200 OK", [TEXT, ("Content-Length", str(declared))])
        return list(chunks) if as_list else iter(chunks)
    return app if as_list else validator(app)


@pytest.mark.parametrize("as_list", [True, False], ids=["list", "iterator"])
def test_a_content_length_met_exactly_keeps_the_connection(serve, raw, as_list):
    with serve(length_app(10, [b"01234", b"56789"], as_list)) as server:
        client = raw(server.port, streaming=True)
        for _ in range(3):
            response = exchange(client)
            assert (response.framing, response.body) == ("length", b"0123456789")
            assert response.header("content-length") == "10"
        assert client.is_open()


@pytest.mark.parametrize("as_list", [True, False], ids=["list", "iterator"])
def test_a_body_shorter_than_its_content_length_ends_the_connection(serve, raw, caplog, as_list):
    with caplog.at_level(logging.WARNING, logger="fastcore"), serve(
            length_app(10, [b"012", b"34"], as_list)) as server:
        client = raw(server.port, streaming=True)
        client.send(request_bytes() + request_bytes())
        head = client.read_head()
        assert head.header("content-length") == "10"
        received = client.finish()
        # The close comes before the tenth byte: the client knows.
        assert parse_one(received, closed=True)[0] is None
        assert received.endswith(b"\r\n\r\n01234")
        assert client.ended == "eof"
    assert any("before its declared length" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("as_list", [True, False], ids=["list", "iterator"])
def test_a_body_longer_than_its_content_length_is_cut_and_ends_the_connection(
        serve, raw, caplog, as_list):
    with caplog.at_level(logging.WARNING, logger="fastcore"), serve(
            length_app(4, [b"012", b"345", b"678"], as_list)) as server:
        client = raw(server.port, streaming=True)
        client.send(request_bytes() + request_bytes())
        response = client.response()
        assert response.body == b"0123"
        # Nothing past the declared length, and no answer to the second
        # request: the connection ends here.
        assert client.finish() == b""
        assert client.ended == "eof"
    assert any("past its declared length" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------
# The fields an application may not send, and responses without a body
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("Connection", "close"), ("Transfer-Encoding", "chunked"), ("Keep-Alive", "timeout=5"),
    ("Upgrade", "websocket"), ("TE", "trailers"), ("Trailer", "X-Checksum"),
    ("Proxy-Authenticate", "Basic"), ("proxy-authorization", "Basic eA=="),
])
def test_hop_by_hop_fields_from_the_application_are_a_500(serve, raw, caplog, name, value):
    app = app_of([b"body"], headers=[TEXT, (name, value)])
    with caplog.at_level(logging.ERROR, logger="fastcore"), serve(app) as server:
        client = raw(server.port, streaming=True)
        response = exchange(client)
        assert response.status == 500 and b"body" not in response.body
        assert response.header(name) is None
        assert exchange(client).status == 500     # and the connection goes on
    assert len(fastcore_errors(caplog)) == 2


def test_date_and_server_are_the_servers_own(serve, raw):
    app = app_of([b"x"], headers=[TEXT, ("Date", "yesterday"), ("Server", "app")])
    with serve(app) as server:
        response = exchange(raw(server.port, streaming=True))
        assert response.status == 200
        # The strict parser insists on exactly one of each, well-formed.
        assert response.header("server") != "app" and response.header("date") != "yesterday"


@pytest.mark.parametrize("headers", [
    [("Bad Name", "x")], [("X:Y", "x")], [("X\r\nInjected", "x")], [("", "x")],
    [("X-Split", "a\r\nInjected: 1")], [("X-Split", "a\nb")], [("X-Split", "a\rb")],
    [("X-Nul", "a\x00b")], [("X-Wide", "\u20ac")], [("X-Bytes", b"v")],
    [("X-Ok", "v", "extra")], ["X-Ok: v"],
], ids=lambda headers: repr(headers[0])[:30])
def test_invalid_header_names_and_values_are_a_500(serve, raw, caplog, headers):
    # Unvalidated: the validator refuses most of these itself, which would
    # prove nothing about the server's own checks.
    def app(environ, start_response):
        start_response("200 OK", [TEXT] + headers)
        return [b"body"]

    with caplog.at_level(logging.ERROR, logger="fastcore"), serve(app) as server:
        for mode in MODES:
            client = raw(server.port, streaming=True)
            client.send(request_bytes(), mode)
            response = client.response()
            assert response.status == 500
            assert b"Injected" not in bytes(client.received) and b"body" not in response.body
            assert not response.closes
    assert len(fastcore_errors(caplog)) == 2


@pytest.mark.parametrize("status", ["101 Switching Protocols", "2000 OK", "099 Low", "600 High",
                                    "abc OK", "200 Bad\r\nX: 1", "200 \u00d6kay", b"200 OK"])
def test_a_malformed_status_is_a_500(serve, raw, status):
    # Unvalidated, as above.
    def app(environ, start_response):
        start_response(status, [TEXT])
        return [b"body"]

    with serve(app) as server:
        assert exchange(raw(server.port, streaming=True)).status == 500


@pytest.mark.parametrize("lengths", [["abc"], ["-1"], ["+5"], ["5", "6"], [""]])
def test_a_malformed_content_length_is_a_500(serve, raw, lengths):
    # Unvalidated: the validator does not look at Content-Length.
    def app(environ, start_response):
        start_response("200 OK", [TEXT] + [("Content-Length", value) for value in lengths])
        return [b"hello"]

    with serve(app) as server:
        assert exchange(raw(server.port, streaming=True)).status == 500


def start_twice(environ, start_response):
    start_response("200 OK", [TEXT])
    start_response("200 OK", [TEXT])
    return [b"x"]


def headers_in_a_tuple(environ, start_response):
    start_response("200 OK", (TEXT,))            # PEP 3333: a list
    return [b"x"]


def never_started(environ, start_response):
    return [b"x"]


def never_started_empty(environ, start_response):
    return iter([b"", b""])


def str_body(environ, start_response):
    start_response("200 OK", [TEXT])
    return ["text"]


def returns_none(environ, start_response):
    start_response("200 OK", [TEXT])


@pytest.mark.parametrize("app", [start_twice, headers_in_a_tuple, never_started, never_started_empty,
                                 str_body, returns_none], ids=lambda app: app.__name__)
def test_an_application_breaking_pep_3333_before_the_head_is_a_500(serve, raw, caplog, app):
    # Unvalidated: the validator would stop each of these itself.
    with caplog.at_level(logging.ERROR, logger="fastcore"), serve(app) as server:
        client = raw(server.port, streaming=True)
        for _ in range(2):
            response = exchange(client)
            assert response.status == 500 and not response.closes
    assert len(fastcore_errors(caplog)) == 2


def test_a_str_chunk_mid_stream_ends_the_connection(serve, raw, caplog):
    def app(environ, start_response):
        # Unvalidated, as above.
        start_response("200 OK", [TEXT])
        yield b"bytes first, "
        yield "then text"

    with caplog.at_level(logging.ERROR, logger="fastcore"), serve(app) as server:
        client = raw(server.port, streaming=True)
        client.send(request_bytes())
        assert client.read_head().status == 200
        received = client.finish()
        assert b"then text" not in received and not received.endswith(b"0\r\n\r\n")
    assert fastcore_errors(caplog)[0].exc_info[0] is TypeError


def test_head_204_and_304_send_no_body(serve, raw):
    closed: list[str] = []

    @validator
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/204":
            start_response("204 No Content", [("X-Kind", "none")])
            chunks = [b"dropped"]
        elif path == "/304":
            start_response("304 Not Modified", [("ETag", '"v1"')])
            chunks = [b"dropped"]
        elif path == "/length":
            start_response("200 OK", [TEXT, ("Content-Length", "5")])
            chunks = [b"12345"]
        else:
            start_response("200 OK", [TEXT])
            chunks = [b"streamed ", b"body"]
        return Closing(chunks, log=closed, name=path)

    with serve(app) as server:
        for mode in MODES:
            closed.clear()
            client = raw(server.port, streaming=True)
            for method, path in (("GET", "/204"), ("GET", "/304"), ("HEAD", "/length"),
                                 ("HEAD", "/stream"), ("HEAD", "/204")):
                client.send(request_bytes(method, path), mode)
                response = client.response(head=method == "HEAD")
                # The strict parser insists on no Content-Length on 204 and
                # 304, and a "dropped" sent anyway would be the start of
                # the next response, and malformed.
                assert response.body == b"" and response.framing == "none"
            response = exchange(client, "GET", "/length")
            assert response.body == b"12345"
            assert closed == ["/204", "/304", "/length", "/stream", "/204", "/length"]
            client.send(request_bytes("HEAD", "/length"))
            assert client.response(head=True).header("content-length") == "5"


# ---------------------------------------------------------------------------
# close() of the iterable
# ---------------------------------------------------------------------------


def test_close_is_called_at_the_end_and_on_errors(serve, raw):
    ended = Closing([b"a", b"b"])
    failed = Closing([b"a"], fail=OSError("disk gone"))
    failed_first = Closing([], fail=OSError("before the first chunk"))
    complete = Closing([b"whole"])
    for body, status in ((ended, 200), (failed, 200), (failed_first, 500), (complete, 200)):
        headers = [TEXT, ("Content-Length", "5")] if body is complete else None
        with serve(app_of(body, headers=headers)) as server:
            client = raw(server.port, streaming=True)
            client.send(request_bytes())
            assert client.read_head().status == status
            assert body.closed.wait(WAIT), body.chunks


def test_close_is_called_when_the_client_leaves_mid_stream(serve, raw):
    # An endless body: the client reads some of it, then closes (with its
    # unread bytes, a reset), resets, or half-closes (a FIN).
    for leave in ("close", "reset", "shutdown_write"):
        body = Closing([b"x" * 65536], forever=True)
        with serve(app_of(body)) as server:
            client = raw(server.port, streaming=True)
            client.send(request_bytes())
            client.read_at_least(256 * 1024)
            getattr(client, leave)()
            assert body.closed.wait(WAIT), leave
            wait_until(lambda: server.connections == 0, what="the connection to close")


# ---------------------------------------------------------------------------
# wsgi.file_wrapper
# ---------------------------------------------------------------------------


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(300_000))
    return path


def test_file_wrapper_sends_a_regular_file_from_its_descriptor(serve, raw, data_file):
    # Unvalidated: the validator wraps the file_wrapper in an iterator of
    # its own, which hides the file from the server (wsgiref's own handler
    # would not see it either).
    data = data_file.read_bytes()
    before = fd_count()
    with serve(wsgi_file_app(str(data_file))) as server:
        client = raw(server.port, streaming=True)
        cases = (("?unreadable=1", data), ("?unreadable=1&at=1000", data[1000:]),
                 ("?unreadable=1&at=10&length=100", data[10:110]),
                 (f"?unreadable=1&length={len(data)}", data))
        for _ in range(5):
            for query, body in cases:
                response = exchange(client, "GET", "/" + query)
                assert response.status == 200 and response.body == body, query
                assert response.header("content-length") == str(len(body))
            assert exchange(client, "HEAD", "/?unreadable=1").header("content-length") == str(len(data))
        # A declared length past the end of the file: what there is, then
        # the close, as for any short body.
        client.send(request_bytes("GET", f"/?length={len(data) + 10}"))
        assert client.read_head().header("content-length") == str(len(data) + 10)
        assert client.finish().endswith(data[-1000:]) and client.ended == "eof"
        client.close()
    # Every descriptor the requests opened (the file, its duplicate for the
    # engine, the connection) is closed.
    wait_until(lambda: fd_count() <= before, what="descriptors to be closed")


class Reader:
    """A file-like object without a descriptor, recording its reads."""

    def __init__(self, data: bytes) -> None:
        self.source = io.BytesIO(data)               # its fileno() fails
        self.sizes: list[int] = []
        self.closed = threading.Event()

    def read(self, size: int) -> bytes:
        self.sizes.append(size)
        return self.source.read(size)

    def close(self) -> None:
        self.closed.set()


def test_file_wrapper_reads_a_filelike_without_a_descriptor_in_blocks(serve, raw):
    data = bytes(range(256)) * 40
    readers: list[Reader] = []

    @validator
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        readers.append(Reader(data))
        return environ["wsgi.file_wrapper"](readers[-1], 1000)

    with serve(app) as server:
        response = exchange(raw(server.port, streaming=True))
        assert response.body == data
        assert readers[0].closed.wait(WAIT)
    # 10,240 bytes: ten full blocks, 240 bytes, then b"" (the end).
    assert readers[0].sizes == [1000] * 12


def test_file_wrapper_goes_out_with_sendfile(data_file):
    require_tool("strace")
    size = data_file.stat().st_size
    with ServerProcess(app="apps:wsgi_file_app", app_args={"path": str(data_file)}) as proc:
        with traced(proc.pid, "sendfile") as calls:
            with RawClient(proc.port, streaming=True) as client:
                assert exchange(client).body == data_file.read_bytes()
    # "sendfile(out, in, [offset] => [offset'], count) = n" (or "= -1
    # EAGAIN ..."): together they sent the whole file.
    sent = [re.search(r"= (\d+)$", call) for call in calls if call.startswith("sendfile(")]
    assert sum(int(match.group(1)) for match in sent if match) == size, calls


# ---------------------------------------------------------------------------
# The environ
# ---------------------------------------------------------------------------


def environ_view(environ) -> dict:
    """The str-valued keys of an environ, and what the wsgi.* objects are."""
    view = {k: v for k, v in environ.items() if type(v) is str}
    view["wsgi"] = {
        "version": list(environ["wsgi.version"]), "url_scheme": environ["wsgi.url_scheme"],
        "multithread": environ["wsgi.multithread"], "multiprocess": environ["wsgi.multiprocess"],
        "run_once": environ["wsgi.run_once"],
        "input_terminated": environ.get("wsgi.input_terminated"),
        "file_wrapper": callable(environ.get("wsgi.file_wrapper")),
        "input": all(hasattr(environ["wsgi.input"], a) for a in ("read", "readline", "readlines")),
        "errors": all(hasattr(environ["wsgi.errors"], a) for a in ("write", "writelines", "flush")),
    }
    return view


@validator
def environ_app(environ, start_response):
    body = json.dumps(environ_view(environ)).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def environ_of(client: RawClient, data: bytes, mode: str) -> dict:
    client.send(data, mode)
    response = client.response()
    assert response.status == 200
    return response.json()


@pytest.mark.parametrize("mode", MODES)
def test_the_environ_has_every_key_pep_3333_requires_and_cgi_defines(serve, raw, mode):
    with serve(environ_app) as server:
        client = raw(server.port, streaming=True)
        environ = environ_of(client, request_bytes(
            "POST", "/submit?a=1&b=%20", body=b"x=1",
            headers=[("Content-Type", "application/x-www-form-urlencoded"),
                     ("User-Agent", "test")]), mode)
        assert environ["REQUEST_METHOD"] == "POST"
        assert environ["SCRIPT_NAME"] == "" and environ["PATH_INFO"] == "/submit"
        assert environ["QUERY_STRING"] == "a=1&b=%20"
        assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
        assert environ["CONTENT_LENGTH"] == "3"
        assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", str(server.port))
        assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
        assert environ["GATEWAY_INTERFACE"] == "CGI/1.1"
        assert environ["SERVER_SOFTWARE"].startswith("fastcore")
        assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("127.0.0.1", str(client.local_port))
        assert environ["HTTP_HOST"] == "x" and environ["HTTP_USER_AGENT"] == "test"
        assert environ["wsgi"] == {
            "version": [1, 0], "url_scheme": "http", "multithread": False,
            "multiprocess": False, "run_once": False, "input_terminated": True,
            "file_wrapper": True, "input": True, "errors": True}
        # Content-Type and Content-Length are not also HTTP_ keys (the
        # validator checks that too).
        assert "HTTP_CONTENT_TYPE" not in environ and "HTTP_CONTENT_LENGTH" not in environ
        plain = environ_of(client, request_bytes("GET", "/", version="1.0"), mode)
        assert plain["SERVER_PROTOCOL"] == "HTTP/1.0" and plain["QUERY_STRING"] == ""
        assert "CONTENT_LENGTH" not in plain and "CONTENT_TYPE" not in plain


@pytest.mark.parametrize("mode", MODES)
def test_path_info_is_percent_decoded_bytes_in_a_latin_1_str(serve, raw, mode):
    cases = {
        "/caf%C3%A9": "/caf\xc3\xa9",                 # the UTF-8 bytes, one char each
        "/caf%c3%a9/x?q=%C3%A9": "/caf\xc3\xa9/x",
        "/a%2Fb": "/a/b",                             # as every WSGI server: PEP 3333 has no raw path
        "/%ff%00%20+": "/\xff\x00 +",
        "/plain/path;p=1": "/plain/path;p=1",
        "/frag#ment": "/frag",                        # a fragment is not part of the path
        "http://example.com/abs?x=1": "/abs",         # absolute-form (RFC 9112 section 3.2.2)
    }
    with serve(environ_app) as server:
        client = raw(server.port, streaming=True)
        for target, path in cases.items():
            environ = environ_of(client, request_bytes("GET", target), mode)
            assert environ["PATH_INFO"] == path, target
        assert environ_of(client, request_bytes("GET", "/caf%C3%A9/x?q=%C3%A9"), mode)[
            "QUERY_STRING"] == "q=%C3%A9"
        assert environ_of(client, request_bytes("GET", "/f?a#b"), mode)["QUERY_STRING"] == "a"
        assert environ_of(client, request_bytes("GET", "http://h?q=1"), mode)["QUERY_STRING"] == "q=1"
        assert environ_of(client, request_bytes("GET", "http://h?q=1"), mode)["PATH_INFO"] == "/"


@pytest.mark.parametrize("mode", MODES)
def test_request_header_fields_in_the_environ(serve, raw, mode):
    with serve(environ_app) as server:
        client = raw(server.port, streaming=True)
        environ = environ_of(client, request_bytes("GET", "/", headers=[
            ("Accept", "text/html"), ("X-Custom", "  padded  "), ("accept", "*/*"),
            ("Cookie", "a=1"), ("Cookie", "b=2; c=3"),
            ("X-Forwarded-For", "10.0.0.1"), ("X_Forwarded_For", "6.6.6.6"),
            ("X_Other", "dropped"), ("X-Empty", ""), ("ACCEPT-language", "en"),
            ("Content-Type", "text/plain"), ("Content-Length", "0"),
        ]), mode)
        # Repeated fields are one value (RFC 9110 section 5.3), Cookie
        # with "; " (RFC 6265 section 5.4).
        assert environ["HTTP_ACCEPT"] == "text/html, */*"
        assert environ["HTTP_COOKIE"] == "a=1; b=2; c=3"
        assert environ["HTTP_X_CUSTOM"] == "padded"
        assert environ["HTTP_ACCEPT_LANGUAGE"] == "en"
        assert environ["HTTP_X_EMPTY"] == ""
        # A name with "_" would become the same key as the one with "-":
        # dropped, so that it cannot pass for it.
        assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"
        assert "HTTP_X_OTHER" not in environ
        assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("text/plain", "0")
        # Only the underscore name, alone: still not there.
        alone = environ_of(client, request_bytes("GET", "/", headers=[
            ("X_Forwarded_For", "6.6.6.6")]), mode)
        assert "HTTP_X_FORWARDED_FOR" not in alone


# ---------------------------------------------------------------------------
# wsgi.input and wsgi.errors
# ---------------------------------------------------------------------------


@validator
def input_app(environ, start_response):
    stream = environ["wsgi.input"]
    how = environ["PATH_INFO"]
    if how == "/read":
        parts = [stream.read(3), stream.read(4), stream.read(1 << 20), stream.read(5)]
    elif how == "/readline":
        parts = [stream.readline(), stream.readline(2), stream.readline(), stream.readline()]
    elif how == "/readlines":
        parts = stream.readlines()
    elif how == "/iterate":
        parts = list(stream)
    else:                                           # /terminated: read to the end, no length
        assert environ["wsgi.input_terminated"] and "CONTENT_LENGTH" in environ
        parts = list(iter(lambda: stream.read(4), b""))
    body = json.dumps([p.decode("latin-1") for p in parts]).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def read_all_app(environ, start_response):
    # Unvalidated: the validator's input wrapper allows read() only with
    # a size.
    stream = environ["wsgi.input"]
    parts = [stream.read(), stream.read(), stream.read(-1)]
    start_response("200 OK", [TEXT])
    return [b"|".join(parts)]


BODY = b"line one\nline two\r\n\nlast, without newline"


@pytest.mark.parametrize("mode", MODES)
def test_wsgi_input(serve, raw, mode):
    expected = {
        "/read": ["lin", "e on", BODY[7:].decode(), ""],
        "/readline": ["line one\n", "li", "ne two\r\n", "\n"],
        "/readlines": ["line one\n", "line two\r\n", "\n", "last, without newline"],
        "/iterate": ["line one\n", "line two\r\n", "\n", "last, without newline"],
    }
    with serve(input_app) as server:
        client = raw(server.port, streaming=True)
        for path, parts in expected.items():
            client.send(request_bytes("POST", path, body=BODY), mode)
            assert client.response().json() == parts, path
        # Chunked (RFC 9112 section 7.1): no Content-Length from the
        # client; the body ends where the input does.
        pieces = (BODY[:9], BODY[9:30], BODY[30:])
        chunked = (b"POST /terminated HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")
        client.send(chunked, mode)
        response = client.response()
        assert response.status == 200, response.body
        assert "".join(response.json()) == BODY.decode()
    with serve(read_all_app) as server:
        client = raw(server.port, streaming=True)
        client.send(request_bytes("POST", "/", body=BODY), mode)
        assert client.response().body == BODY + b"||"


def test_wsgi_errors_writes_to_the_fastcore_wsgi_logger(serve, raw, caplog):
    @validator
    def app(environ, start_response):
        errors = environ["wsgi.errors"]
        errors.write("first line\nsecond ")
        errors.write("line\n")
        errors.writelines(["third\n", "unfinished"])
        errors.flush()
        start_response("200 OK", [TEXT])
        return [b"ok"]

    with caplog.at_level(logging.INFO, logger="fastcore.wsgi"), serve(app) as server:
        assert exchange(raw(server.port, streaming=True)).body == b"ok"
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("fastcore.wsgi", "first line"), ("fastcore.wsgi", "second line"),
        ("fastcore.wsgi", "third"), ("fastcore.wsgi", "unfinished")]


# ---------------------------------------------------------------------------
# Mounting, and Server(wsgi_app)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_wsgi_app_mounted_under_a_prefix_beside_native_routes(serve, raw, mode):
    app = fastcore.App()

    @app.route("/")
    def index(request):
        return b"native index"

    @app.route("/legacy/native")
    def shadowing(request):
        return b"native route inside the prefix"

    app.mount("/legacy", environ_app)
    app.mount("/caf\xe9", environ_app)
    with serve(app) as server:
        client = raw(server.port, streaming=True)
        cases = {"/legacy/users/7?x=1": ("/legacy", "/users/7"),
                 "/legacy": ("/legacy", ""), "/legacy/": ("/legacy", "/"),
                 "/legacy/a%2Fb": ("/legacy", "/a/b"),
                 "/caf%C3%A9/x": ("/caf\xc3\xa9", "/x")}
        for target, (script_name, path_info) in cases.items():
            environ = environ_of(client, request_bytes("GET", target), mode)
            assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == (script_name, path_info), target
        assert environ_of(client, request_bytes("GET", "/legacy/users/7?x=1"), mode)[
            "QUERY_STRING"] == "x=1"
        for target, body in (("/", b"native index"),
                             ("/legacy/native", b"native route inside the prefix")):
            client.send(request_bytes("GET", target), mode)
            assert client.response().body == body
        client.send(request_bytes("GET", "/legacyx"), mode)
        assert client.response().status == 404        # not under the prefix


def test_server_serves_a_wsgi_callable_directly(raw):
    server = fastcore.Server(environ_app, "127.0.0.1", 0, max_body=8)
    assert isinstance(server.app, fastcore.App)
    with server:
        client = raw(server.port, streaming=True)
        assert environ_of(client, request_bytes("GET", "/x"), "whole")["PATH_INFO"] == "/x"
        # The limits apply to a WSGI application too.
        assert exchange(client, "POST", "/", body=b"123456789").status == 413
        assert client.closed()
    with pytest.raises(TypeError):
        fastcore.Server(object(), "127.0.0.1", 0)


# ---------------------------------------------------------------------------
# The environ beside wsgiref.simple_server's
# ---------------------------------------------------------------------------


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


DIFFERENTIAL_REQUESTS = [
    request_bytes("GET", "/"),
    request_bytes("GET", "/caf%C3%A9/x%2Fy;p?q=%C3%A9&r=a+b", headers=[
        ("Accept", "text/html"), ("User-Agent", "differential/1"),
        ("Accept-Language", "fr, en;q=0.5"), ("X-Padded", "  value  ")]),
    request_bytes("POST", "/form", body=b"a=1&b=2", headers=[
        ("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", "s=abc; t=2")]),
    request_bytes("PUT", "/put/", body=b"\x00\xff" * 10, headers=[("X-Obs", "caf\xe9")]),
    request_bytes("HEAD", "/head", headers=[("If-None-Match", '"x"')]),
    request_bytes("DELETE", "/%7Euser/%25", version="1.0", host=None),
    request_bytes("OPTIONS", "/opt?", headers=[("Accept", "a"), ("Accept", "b")]),
]


def test_the_environ_matches_wsgiref_simple_servers():
    """The same requests, byte for byte, to the same application under
    fastcore and under wsgiref.simple_server: the environs it saw agree
    except where the two servers legitimately differ."""
    seen: list[dict] = []

    def app(environ, start_response):
        view = environ_view(environ)
        view["body"] = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).hex()
        seen.append(view)
        start_response("200 OK", [TEXT])
        return [b"ok"]

    def environs(port: int) -> list[dict]:
        seen.clear()
        for data in DIFFERENTIAL_REQUESTS:
            with RawClient(port) as client:
                client.send(data)
                client.read_at_least(12)           # a status line: the app has run
        return list(seen)

    reference = wsgiref.simple_server.make_server("127.0.0.1", 0, validator(app),
                                                  handler_class=QuietHandler)
    thread = threading.Thread(target=reference.serve_forever, daemon=True)
    thread.start()
    try:
        theirs = environs(reference.server_port)
    finally:
        reference.shutdown()
        reference.server_close()
    with fastcore.Server(validator(app), "127.0.0.1", 0) as server:
        ours = environs(server.port)
    assert len(ours) == len(theirs) == len(DIFFERENTIAL_REQUESTS)
    for data, mine, reference_view in zip(DIFFERENTIAL_REQUESTS, ours, theirs):
        # Where they differ, and why that is right:
        for key in ("SERVER_SOFTWARE", "REMOTE_PORT", "SERVER_PORT"):
            # each server's own name and port, and the client's port
            # (which wsgiref does not give at all)
            mine.pop(key, None)
            reference_view.pop(key, None)
        # wsgiref names the server with socket.getfqdn() of the bound
        # address (a lookup, "localhost" here); fastcore gives the address
        # the client connected to. Both are for URL reconstruction, after
        # HTTP_HOST (PEP 3333).
        assert mine.pop("SERVER_NAME") == "127.0.0.1"
        reference_view.pop("SERVER_NAME")
        for key, value in wsgiref.simple_server.ServerHandler.os_environ.items():
            # wsgiref's handler copies the process environment (as it was
            # when wsgiref was imported) into every environ, a CGI habit;
            # a server has no reason to pass it on.
            if reference_view.get(key) == value and key not in mine:
                del reference_view[key]
        # wsgiref always sets these, empty when it knows nothing: CGI
        # (RFC 3875 sections 4.1.2, 4.1.9) allows unset for "no body" and
        # "no name", and fastcore leaves them out.
        for key in ("CONTENT_LENGTH", "REMOTE_HOST"):
            if reference_view.get(key) == "":
                del reference_view[key]
        # Without a Content-Type field wsgiref puts the email package's
        # default, "text/plain"; fastcore says nothing it was not told.
        if b"\r\nContent-Type:" not in data:
            assert reference_view.pop("CONTENT_TYPE") == "text/plain"
        # wsgiref joins repeated fields with ",", fastcore with ", " (RFC
        # 9110 section 5.3 allows either: the same list).
        for key, value in reference_view.items():
            if key.startswith("HTTP_") and key != "HTTP_COOKIE" and isinstance(value, str):
                reference_view[key] = ", ".join(part.strip() for part in value.split(","))
        # wsgiref does not offer wsgi.input_terminated; a server that has
        # the whole body does. wsgiref's handler says multithread and
        # multiprocess whatever server runs it (its defaults, True and True,
        # for a simple server that is neither); fastcore runs one thread in
        # one process.
        assert mine["wsgi"].pop("input_terminated") is True
        assert (mine["wsgi"].pop("multithread"), mine["wsgi"].pop("multiprocess")) == (False, False)
        for key in ("input_terminated", "multithread", "multiprocess"):
            reference_view["wsgi"].pop(key)
        assert mine == reference_view, data
