"""Fuzzing the wire: hypothesis sends random bytes and mutated valid
requests (cut at random points into several sends) to a live server.

For every connection: after the client half-closes, the server answers and
closes within the deadline; everything it sent parses strictly as complete,
well-formed responses (tests/helpers.py: status line, fields, exactly one
Content-Length, Date and Server, a body of that length, nothing truncated);
each is 200 (the echo handler's) or one of the engine's refusals, which is
the last response and says Connection: close; the handler ran exactly once
per 200; never a 500 (an engine failure). After every example a normal
request on a new connection still succeeds, and the server's loop is alive.
And the answer does not depend on how the bytes were cut: the same bytes
sent whole and in pieces get the same statuses and the same echoes.

The bounded run (part of the suite, about a minute) is sized by
FASTCORE_FUZZ_EXAMPLES (examples per test; default 10000). A longer run:

    FASTCORE_FUZZ_EXAMPLES=100000 PYTHONPATH=. python -m pytest tests/test_fuzz.py -q

Failing examples are kept in .pytest_cache/hypothesis and replayed first.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

import fastcore
from apps import EchoApp
from helpers import RawClient, one_request, parse_complete, serving

EXAMPLES = int(os.environ.get("FASTCORE_FUZZ_EXAMPLES", "10000"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,                     # network round trips vary
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
    database=DirectoryBasedExampleDatabase(
        os.path.join(ROOT, ".pytest_cache", "hypothesis")),
    print_blob=True,
)

# What the engine itself may answer with; 500 would be its own failure and
# 408 a timeout, which cannot happen within this test's deadlines.
REFUSALS = {400, 413, 414, 417, 431, 501, 505}


class FuzzEchoApp(EchoApp):
    """The echo, except that HEAD gets an empty body: a response to HEAD
    then has Content-Length 0 and parses the same either way."""

    def dispatch(self, request):
        response = super().dispatch(request)
        if request.method == "HEAD":
            return fastcore.Response(b"", content_type="application/json")
        return response


@pytest.fixture(scope="module")
def fuzz_server():
    app = FuzzEchoApp()
    # Small limits, so that the fuzzer reaches them.
    with serving(app, max_request_line=512, max_header_field=256,
                 max_header_bytes=2048, max_header_count=16, max_body=4096) as server:
        yield server, app


SEEDS = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a/b?c=d&e=%20f HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX-Two: 1\r\nX-Two: 2\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=v\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    b"PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
    b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nokGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"DELETE /d HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
]

TOKENS = [
    b"\r\n", b"\n", b"\r", b" ", b"\t", b":", b";", b",", b"=", b'"', b"\x00", b"\x7f",
    b"\xff", b"0", b"5", b"f", b"-", b"+", b"/", b"?", b"%", b"*", b"chunked", b"identity",
    b"gzip", b"Content-Length: ", b"Transfer-Encoding: ", b"Host: x\r\n",
    b"Connection: close\r\n", b"Expect: 100-continue\r\n", b"HTTP/1.0", b"HTTP/1.1",
    b"HTTP/2.0", b"\r\n\r\n", b"0\r\n\r\n", b"ffffffffffffffffff", b"99999999999",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"CONNECT", b"BREW",
]


@st.composite
def mutated_requests(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(
            ["flip", "insert", "token", "delete", "duplicate", "truncate", "replace"]))
        pos = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            pos = min(pos, len(data) - 1)
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "token":
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 8))]
        elif kind == "duplicate":
            end = min(len(data), pos + draw(st.integers(1, 40)))
            data[pos:pos] = data[pos:end]
        elif kind == "truncate":
            del data[pos:]
        elif kind == "replace" and data:
            pos = min(pos, len(data) - 1)
            data[pos:pos + 1] = draw(st.sampled_from(TOKENS))
    return bytes(data)


def cuts(max_pieces: int = 8):
    return st.lists(st.integers(1, 2048), max_size=max_pieces - 1)


def check_connection(server, app, data: bytes, offsets: list[int]) -> list:
    """Send, half-close, read until closed; check the invariants; return
    the responses."""
    app.clear()                        # client ports are reused between examples
    with RawClient(server.port, timeout=5.0) as client:
        # A pause between pieces, so that each tends to arrive in a read of
        # its own.
        client.send(data, offsets or "whole", pace=1e-4)
        client.shutdown_write()
        client.finish()                  # the server must answer and close
        responses = parse_complete(client.received)
        statuses = [r.status for r in responses]
        for index, response in enumerate(responses):
            if response.status == 200:
                if response.body:                       # empty for HEAD
                    assert response.json()["port"] == client.local_port
                assert not response.informational or response.informational == [100]
            else:
                assert response.status in REFUSALS, f"status {response.status}: {statuses}"
                assert index == len(responses) - 1, f"a response after a refusal: {statuses}"
                assert response.closes, "a refusal without Connection: close"
        handled = app.seen_from(client.local_port)
        assert len(handled) == statuses.count(200), (statuses, handled)
        return responses


def check_server_alive(server) -> None:
    assert server.error is None, server.error
    assert server._thread is not None and server._thread.is_alive()
    response = one_request(server.port, b"GET /still-there HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.status == 200
    assert json.loads(response.body)["target"] == "/still-there"


@FUZZ_SETTINGS
@given(data=mutated_requests(), offsets=cuts())
def test_mutated_requests(fuzz_server, data, offsets):
    server, app = fuzz_server
    check_connection(server, app, data, offsets)
    check_server_alive(server)


@FUZZ_SETTINGS
@given(data=st.binary(min_size=1, max_size=1024), offsets=cuts())
def test_random_bytes(fuzz_server, data, offsets):
    server, app = fuzz_server
    check_connection(server, app, data, offsets)
    check_server_alive(server)


@FUZZ_SETTINGS
@given(data=st.lists(st.sampled_from(SEEDS) | mutated_requests(), min_size=2, max_size=5),
       offsets=cuts(12))
def test_pipelined_mixtures(fuzz_server, data, offsets):
    """Valid and mutated requests back to back on one connection: whatever
    comes after a refusal is never answered."""
    server, app = fuzz_server
    check_connection(server, app, b"".join(data), offsets)
    check_server_alive(server)


@FUZZ_SETTINGS
@given(data=mutated_requests(), offsets=cuts(16))
def test_the_answer_does_not_depend_on_how_the_bytes_are_cut(fuzz_server, data, offsets):
    server, app = fuzz_server
    whole = check_connection(server, app, data, [])
    pieces = check_connection(server, app, data, offsets)
    # 100 Continue is sent only when the body has not already arrived in
    # the same read, so interim responses may differ; final ones may not.
    assert [answer(r) for r in pieces] == [answer(r) for r in whole]


def answer(response) -> tuple:
    """A response as far as the request decides it (not the client port)."""
    if response.status == 200 and response.body:
        echo = response.json()
        del echo["port"]
        return 200, echo
    return response.status, response.body
