"""The shared client and parser (tests/helpers.py) can fail: every test that
reads a response relies on the parser refusing what fastcore must never
send, and on the client telling a FIN from a reset from an open connection.

The parser is fed hand-written responses, whole and cut at every byte (a
prefix of a good response is incomplete, never an error); the client talks
to a plain listening socket on 127.0.0.1 that answers with those bytes and
then closes, resets, or stays open.
"""

from __future__ import annotations

import contextlib
import email.utils
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from helpers import (
    MalformedResponse, RawClient, ServerHung, parse_complete, parse_one, parse_responses)

DATE = email.utils.formatdate(0, usegmt=True).encode()      # Thu, 01 Jan 1970 ...
FIELDS = b"Server: fastcore\r\nDate: " + DATE + b"\r\n"


def response(status: bytes = b"200 OK", fields: bytes = b"Content-Length: 5\r\n",
             body: bytes = b"hello") -> bytes:
    return b"HTTP/1.1 " + status + b"\r\n" + FIELDS + fields + b"\r\n" + body


CHUNKED = b"Transfer-Encoding: chunked\r\n"


def chunked(body: bytes, fields: bytes = b"") -> bytes:
    return response(fields=CHUNKED + fields, body=body)


# (bytes, head, streaming, what the body is)
GOOD = [
    pytest.param(response(), False, False, b"hello", id="content-length"),
    pytest.param(response(fields=b"Content-Length: 0\r\n", body=b""), False, False, b"",
                 id="empty-body"),
    pytest.param(response(body=b""), True, False, b"", id="head"),
    pytest.param(response(b"204 No Content", b"", b""), False, False, b"", id="204"),
    pytest.param(response(b"304 Not Modified", b'ETag: "x"\r\n', b""), False, False, b"",
                 id="304"),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n" + response(), False, False, b"hello",
                 id="100-continue-first"),
    pytest.param(chunked(b"5\r\nhello\r\nA\r\n, world!!!\r\n0\r\n\r\n"), False, True,
                 b"hello, world!!!", id="chunked"),
    pytest.param(chunked(b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n", b"Trailer: X-Sum\r\n"),
                 False, True, b"hello", id="chunked-with-trailer"),
    pytest.param(response(fields=CHUNKED, body=b""), True, True, b"", id="chunked-head"),
]


@pytest.mark.parametrize("data, head, streaming, body", GOOD)
def test_a_good_response_parses_whole_and_no_prefix_is_an_error(data, head, streaming, body):
    parsed, end = parse_one(data, head, streaming=streaming)
    assert parsed is not None and end == len(data) and parsed.body == body
    for cut in range(len(data)):
        assert parse_one(data[:cut], head, streaming=streaming) == (None, 0), cut


def test_a_close_delimited_body_ends_only_at_a_fin():
    data = response(fields=b"Connection: close\r\n", body=b"until the end")
    assert parse_one(data, streaming=True) == (None, 0)            # more may come
    parsed, end = parse_one(data, streaming=True, closed=True)
    assert (parsed.body, parsed.framing, end) == (b"until the end", "close", len(data))


def test_pipelined_responses_are_framed_one_by_one():
    data = response(body=b"") + response() + response(b"404 Not Found", body=b"nope!")
    responses, rest = parse_responses(data + b"HTTP/1.1 2", heads=[True])
    assert [(r.status, r.body) for r in responses] == [(200, b""), (200, b"hello"),
                                                      (404, b"nope!")]
    assert rest == b"HTTP/1.1 2"
    with pytest.raises(MalformedResponse, match="truncated"):
        parse_complete(data + b"HTTP/1.1 2", heads=[True])


def bad(data: bytes, name: str, head: bool = False, streaming: bool = False):
    return pytest.param(data, head, streaming, id=name)


BAD = [
    # -- the status line and the field syntax ---------------------------------
    bad(b"HTTP/1.0 200 OK\r\n" + FIELDS + b"Content-Length: 0\r\n\r\n", "http10-status-line"),
    bad(b"HTTP/1.1 20 OK\r\n\r\n", "two-digit-status"),
    bad(b"HTTP/1.1 200\r\n\r\n", "no-space-after-status"),
    bad(b"HTTP/1.1 200 OK\n" + FIELDS + b"Content-Length: 0\r\n\r\n", "bare-lf"),
    bad(b"<html>not a response</html>", "not-http"),
    bad(response(fields=b"Content-Length : 5\r\n"), "space-before-colon"),
    bad(response(fields=b"Content-Length: 5\r\n X-Folded: 1\r\n"), "obs-fold"),
    bad(response(fields=b"X-Bad: a\x00b\r\nContent-Length: 5\r\n"), "nul-in-value"),
    # -- Date and Server, once each -------------------------------------------
    bad(b"HTTP/1.1 200 OK\r\nServer: fastcore\r\nContent-Length: 0\r\n\r\n", "no-date"),
    bad(b"HTTP/1.1 200 OK\r\nDate: " + DATE + b"\r\nContent-Length: 0\r\n\r\n", "no-server"),
    bad(response(fields=b"Date: " + DATE + b"\r\nContent-Length: 5\r\n"), "two-dates"),
    bad(b"HTTP/1.1 200 OK\r\nServer: fastcore\r\nDate: Thursday, 01-Jan-70 00:00:00 GMT"
        b"\r\nContent-Length: 0\r\n\r\n", "obsolete-date-form"),
    # -- exactly one Content-Length, where there is content --------------------
    bad(response(fields=b""), "no-content-length"),
    bad(response(fields=b"Content-Length: 5\r\nContent-Length: 5\r\n"), "two-content-lengths"),
    bad(response(fields=b"Content-Length: 05\r\n"), "content-length-leading-zero"),
    bad(response(fields=b"Content-Length: +5\r\n"), "content-length-sign"),
    bad(response(fields=b"Content-Length: \xb2\r\n"), "content-length-superscript-digit"),
    bad(response(b"204 No Content", b"Content-Length: 0\r\n", b""), "content-length-on-204"),
    bad(response(b"304 Not Modified", b"Content-Length: 5\r\n", b""), "content-length-on-304"),
    bad(response(fields=b"", body=b""), "head-without-content-length", head=True),
    # -- interim responses ------------------------------------------------------
    bad(b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + response(), "101-interim"),
    bad(b"HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\n" + response(), "100-with-fields"),
    # -- chunked, only where streaming ------------------------------------------
    bad(chunked(b"0\r\n\r\n"), "chunked-when-not-streaming"),
    bad(chunked(b"0\r\n\r\n", b"Content-Length: 5\r\n"), "chunked-and-content-length",
        streaming=True),
    bad(response(fields=b"Transfer-Encoding: gzip, chunked\r\n", body=b"0\r\n\r\n"),
        "other-coding", streaming=True),
    bad(chunked(b"0\r\n\r\n", CHUNKED), "two-transfer-encodings", streaming=True),
    bad(response(b"204 No Content", CHUNKED, b""), "chunked-on-204", streaming=True),
    bad(chunked(b"5;ext=1\r\nhello\r\n0\r\n\r\n"), "chunk-extension", streaming=True),
    bad(chunked(b"05\r\nhello\r\n0\r\n\r\n"), "chunk-size-leading-zero", streaming=True),
    bad(chunked(b"5\nhello\r\n0\r\n\r\n"), "chunk-size-bare-lf", streaming=True),
    bad(chunked(b"x\r\n"), "chunk-size-not-hex", streaming=True),
    bad(chunked(b"3\r\nhello\r\n0\r\n\r\n"), "chunk-longer-than-its-size", streaming=True),
    bad(chunked(b"5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"), "trailer-not-announced",
        streaming=True),
    bad(chunked(b"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n",
                b"Trailer: Content-Length\r\n"), "framing-field-as-trailer", streaming=True),
    # -- delimited by the close, only where streaming and announced -------------
    bad(response(fields=b""), "close-delimited-without-close", streaming=True),
    bad(response(fields=b"Connection: close\r\n", body=b""), "close-delimited-head",
        head=True, streaming=True),
]


@pytest.mark.parametrize("data, head, streaming", BAD)
def test_a_malformed_response_is_refused(data, head, streaming):
    with pytest.raises(MalformedResponse):
        parse_complete(data, [head], streaming=streaming)


def test_nothing_may_follow_a_response_that_announced_the_close():
    closing = response(fields=b"Content-Length: 5\r\nConnection: close\r\n")
    assert len(parse_complete(closing)) == 1
    with pytest.raises(MalformedResponse, match="announced the close"):
        parse_responses(closing + response())


# -- the client, against a plain socket --------------------------------------

@contextlib.contextmanager
def peer(answer: bytes, then: str, heard: list[bytes] | None = None) -> Iterator[int]:
    """A listener that accepts one connection, reads the request's head
    (into `heard`), sends `answer`, then closes ("fin"), resets ("reset")
    or stays open ("open") until the test is done."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(1024)
            if heard is not None:
                heard.append(data)
            conn.sendall(answer)
            if then == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif then == "open":
                done.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join(30)
        listener.close()


REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("mode", ["whole", "bytewise", [3, 17, 18]])
@pytest.mark.parametrize("then, ended", [("fin", "eof"), ("reset", "reset"), ("open", None)])
def test_the_client_sends_exact_bytes_and_tells_how_the_connection_ended(then, ended, mode):
    heard: list[bytes] = []
    with peer(response(), then, heard) as port, RawClient(port) as client:
        assert client.send(REQUEST, mode)
        assert client.response().body == b"hello"
        assert heard == [REQUEST]
        assert client.closed(timeout=0.5 if then == "open" else None) is (ended is not None)
        assert client.ended == ended


def test_the_client_parses_strictly():
    answer = b"HTTP/1.1 200 OK\r\nServer: fastcore\r\nContent-Length: 0\r\n\r\n"
    with peer(answer, "fin") as port, RawClient(port) as client:
        client.send(REQUEST)
        with pytest.raises(MalformedResponse, match="0 date fields"):
            client.response()


def test_the_client_reports_a_hang_at_its_deadline():
    with peer(b"HTTP/1.1 200 OK\r\n", "open") as port, RawClient(port) as client:
        client.send(REQUEST)
        with pytest.raises(ServerHung):
            client.response(timeout=0.3)


def test_a_close_delimited_body_is_complete_after_a_fin_only():
    answer = response(fields=b"Connection: close\r\n", body=b"streamed")
    with peer(answer, "fin") as port, RawClient(port, streaming=True) as client:
        client.send(REQUEST)
        streamed = client.response()
        assert (streamed.framing, streamed.body, client.ended) == ("close", b"streamed", "eof")
    with peer(answer, "reset") as port, RawClient(port, streaming=True) as client:
        client.send(REQUEST)
        client.finish()
        assert client.ended == "reset" and client.received == answer
        with pytest.raises(AssertionError, match=r"ended \(reset\)"):
            client.response()                # a reset ends nothing: what was lost?
