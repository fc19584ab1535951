"""Request smuggling: every ambiguity in how a request is framed is refused
with 400 (501 for a well-formed method the server does not know, 413/431
for a limit) and the connection closed, and after a framing error no later
byte of that connection is parsed as a request.

Each vector is sent whole and one byte at a time, followed by a second,
well-formed request (GET /smuggled) that an echo handler would record. The
test passes only if the bad request is refused with the exact status, the
response says ``Connection: close``, the server closes by itself, nothing
else is answered, and no handler saw either request.
"""

from __future__ import annotations

import pytest

from apps import EchoApp
from helpers import RawClient, parse_complete, serving

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

POST = b"POST / HTTP/1.1\r\nHost: x\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"
GET = b"GET / HTTP/1.1\r\nHost: x\r\n"


def vector(data: bytes, status: int, name: str):
    return pytest.param(data, status, id=name)


VECTORS = [
    # -- Transfer-Encoding with Content-Length (RFC 9112 section 6.1) --------
    vector(POST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
           400, "te-then-cl"),
    vector(POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           400, "cl-then-te"),
    vector(POST + b"Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           400, "cl-covering-the-next-request-and-te"),
    # A coding other than chunked is refused (501) as its field arrives,
    # before the Content-Length beside it.
    vector(POST + b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello",
           501, "te-identity-and-cl"),
    vector(b"POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"0\r\n\r\n", 400, "http10-cl-and-te"),
    # -- two Content-Length fields, or a list (RFC 9112 section 6.3) ---------
    vector(POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400,
           "two-content-lengths-differing"),
    vector(POST + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400,
           "two-content-lengths-equal"),
    vector(POST + b"Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello", 400,
           "two-content-lengths-5-and-05"),
    vector(POST + b"Content-Length: 5, 5\r\n\r\nhello", 400, "content-length-list"),
    vector(POST + b"Content-Length: +5\r\n\r\nhello", 400, "content-length-plus-sign"),
    vector(POST + b"Content-Length: -5\r\n\r\nhello", 400, "content-length-negative"),
    vector(POST + b"Content-Length: 0x5\r\n\r\nhello", 400, "content-length-hex"),
    vector(POST + b"Content-Length: 1 5\r\n\r\nhello", 400, "content-length-inner-space"),
    vector(POST + b"Content-Length: \r\n\r\n", 400, "content-length-empty"),
    vector(POST + b"Content-Length: 99999999999999999999999\r\n\r\nhello", 400,
           "content-length-overflowing"),
    # -- chunked must be the final coding (RFC 9112 section 6.1) -------------
    # chunked is the only coding fastcore decodes; any other is a coding it
    # does not understand: 501 (RFC 9112 section 6.1).
    vector(POST + b"Transfer-Encoding: gzip\r\n\r\nhello", 501, "te-gzip-only"),
    vector(POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400,
           "te-chunked-then-gzip"),
    vector(POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"
           b"0\r\n\r\n", 400, "te-chunked-field-then-identity-field"),
    vector(POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400,
           "te-chunked-twice"),
    vector(POST + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501, "te-xchunked"),
    vector(POST + b"Transfer-Encoding: \r\n\r\n0\r\n\r\n", 400, "te-empty"),
    # -- whitespace after the final coding ------------------------------------
    # Not part of the value (RFC 9110 section 5.5), but llhttp reads chunked
    # and a tab as another coding, so chunked would not be final (RFC 9112
    # section 6.3, item 4): refused, with a space as with a tab.
    vector(POST + b"Transfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n", 400, "te-chunked-then-tab"),
    vector(POST + b"Transfer-Encoding: chunked \r\n\r\n0\r\n\r\n", 400, "te-chunked-then-space"),
    vector(POST + b"Transfer-Encoding: chunked \t \r\n\r\n0\r\n\r\n", 400,
           "te-chunked-then-space-tab-space"),
    vector(POST + b"Transfer-Encoding: gzip\t\r\n\r\n0\r\n\r\n", 501, "te-gzip-then-tab"),
    # -- chunked in HTTP/1.0 (RFC 9112 section 6.1) ---------------------------
    vector(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
           "http10-chunked"),
    vector(b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked"
           b"\r\n\r\n0\r\n\r\n", 400, "http10-keep-alive-chunked"),
    # -- obs-fold (RFC 9112 section 5.2) --------------------------------------
    vector(GET + b"X-A: one\r\n two\r\n\r\n", 400, "obs-fold-space"),
    vector(GET + b"X-A: one\r\n\ttwo\r\n\r\n", 400, "obs-fold-tab"),
    vector(POST + b"Content-Length:\r\n 5\r\n\r\nhello", 400, "obs-fold-content-length"),
    vector(b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400, "whitespace-before-first-field"),
    # -- whitespace between field name and colon (RFC 9112 section 5.1) -------
    vector(GET + b"X-A : one\r\n\r\n", 400, "space-before-colon"),
    vector(GET + b"X-A\t: one\r\n\r\n", 400, "tab-before-colon"),
    vector(POST + b"Content-Length : 5\r\n\r\nhello", 400, "content-length-space-colon"),
    vector(POST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400,
           "transfer-encoding-space-colon"),
    # -- CR, LF or NUL inside a field value (RFC 9110 section 5.5) ------------
    vector(GET + b"X-A: one\rtwo\r\n\r\n", 400, "cr-in-value"),
    vector(GET + b"X-A: one\nContent-Length: 5\r\n\r\nhello", 400, "lf-in-value"),
    vector(GET + b"X-A: one\x00two\r\n\r\n", 400, "nul-in-value"),
    # -- bare LF as a line ending (RFC 9112 section 2.2) ----------------------
    vector(b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "lf-after-request-line"),
    vector(b"GET / HTTP/1.1\r\nHost: x\n\r\n", 400, "lf-after-field"),
    vector(b"GET / HTTP/1.1\r\nHost: x\r\n\n", 400, "lf-ending-the-head"),
    vector(b"GET / HTTP/1.1\nHost: x\n\n", 400, "lf-only"),
    vector(b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400, "bare-cr-after-request-line"),
    vector(CHUNKED + b"5\nhello\r\n0\r\n\r\n", 400, "lf-after-chunk-size"),
    vector(CHUNKED + b"5\r\nhello\n0\r\n\r\n", 400, "lf-after-chunk-data"),
    vector(CHUNKED + b"0\n\n", 400, "lf-after-last-chunk"),
    # -- invalid or overflowing chunk sizes (RFC 9112 section 7.1) ------------
    vector(CHUNKED + b"g\r\nhello\r\n0\r\n\r\n", 400, "chunk-size-not-hex"),
    vector(CHUNKED + b"-5\r\nhello\r\n0\r\n\r\n", 400, "chunk-size-negative"),
    vector(CHUNKED + b"+5\r\nhello\r\n0\r\n\r\n", 400, "chunk-size-plus-sign"),
    vector(CHUNKED + b"0x5\r\nhello\r\n0\r\n\r\n", 400, "chunk-size-0x"),
    vector(CHUNKED + b"5_0\r\nhello\r\n0\r\n\r\n", 400, "chunk-size-underscore"),
    vector(CHUNKED + b"1 0\r\nhello\r\n0\r\n\r\n", 400, "chunk-size-inner-space"),
    vector(CHUNKED + b"\r\nhello\r\n0\r\n\r\n", 400, "chunk-size-empty"),
    vector(CHUNKED + b" 5\r\nhello\r\n0\r\n\r\n", 400, "chunk-size-leading-space"),
    vector(CHUNKED + b"10000000000000005\r\nhello\r\n0\r\n\r\n", 400,
           "chunk-size-overflowing-64-bits"),
    vector(CHUNKED + b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400,
           "chunk-size-20-hex-digits"),
    # -- bad chunk extensions (RFC 9112 section 7.1.1) ------------------------
    vector(CHUNKED + b"5;\r\nhello\r\n0\r\n\r\n", 400, "chunk-ext-empty"),
    vector(CHUNKED + b'5;a="x\r\nhello\r\n0\r\n\r\n', 400, "chunk-ext-unterminated-quote"),
    vector(CHUNKED + b"5;a=b\rc\r\nhello\r\n0\r\n\r\n", 400, "chunk-ext-bare-cr"),
    vector(CHUNKED + b"5;a=b\nc\r\nhello\r\n0\r\n\r\n", 400, "chunk-ext-bare-lf"),
    vector(CHUNKED + b"5;a=\x01\r\nhello\r\n0\r\n\r\n", 400, "chunk-ext-control-byte"),
    vector(CHUNKED + b"5;a@b\r\nhello\r\n0\r\n\r\n", 400, "chunk-ext-name-not-token"),
    # llhttp refuses BWS in chunk extensions (see test_conformance: valid/013).
    vector(CHUNKED + b"5 ;a=b\r\nhello\r\n0\r\n\r\n", 400, "chunk-ext-whitespace"),
    # -- missing CRLF after chunk data (RFC 9112 section 7.1) -----------------
    vector(CHUNKED + b"5\r\nhelloXX0\r\n\r\n", 400, "chunk-data-then-junk"),
    vector(CHUNKED + b"5\r\nhello0\r\n\r\n", 400, "chunk-data-without-crlf"),
    vector(CHUNKED + b"3\r\nhello\r\n0\r\n\r\n", 400, "chunk-longer-than-its-size"),
    # -- trailers that would reframe or reroute (RFC 9110 section 6.5.1) ------
    vector(CHUNKED + b"0\r\nContent-Length: 5\r\n\r\n", 400, "trailer-content-length"),
    vector(CHUNKED + b"0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
           "trailer-transfer-encoding"),
    vector(CHUNKED + b"0\r\nHost: evil\r\n\r\n", 400, "trailer-host"),
    # -- Host (RFC 9112 section 3.2) -------------------------------------------
    vector(b"GET / HTTP/1.1\r\n\r\n", 400, "http11-without-host"),
    vector(b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "two-hosts"),
    # -- the method is a token (RFC 9110 section 9.1, 5.6.2) -------------------
    vector(b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "method-with-paren"),
    vector(b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "method-with-at"),
    vector(b"GET: / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "method-with-colon"),
    vector(b"GE/T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "method-with-slash"),
    vector(b"GET\x00 / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "method-with-nul"),
    vector(b"G\xc3\x89T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "method-non-ascii"),
    vector(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400, "tls-client-hello"),
    # A well-formed token the server does not know: 501, however the bytes
    # arrive (RFC 9110 section 9.1).
    vector(b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "unknown-method"),
    vector(b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "lower-case-method"),
    # -- limits: refused before the body is read -------------------------------
    vector(POST + b"Content-Length: 2000000\r\n\r\n", 413, "content-length-over-max-body"),
    vector(POST + b"Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n", 413,
           "expect-continue-over-max-body"),
    vector(GET + b"X-Big: " + b"v" * 9000 + b"\r\n\r\n", 431, "field-over-max-header-field"),
]


@pytest.fixture(scope="module")
def echo_server():
    app = EchoApp()
    # A short keep-alive: a vector wrongly accepted leaves the connection
    # open, and the test then fails after 1 s instead of 5.
    with serving(app, keepalive_timeout=1.0) as server:
        yield server, app


def exchange(server, data: bytes, mode: str) -> RawClient:
    client = RawClient(server.port)
    client.send(data, mode)
    client.finish()                    # the server must close by itself
    return client


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
@pytest.mark.parametrize("request_bytes, status", VECTORS)
def test_refused_and_nothing_after_it_is_parsed(echo_server, request_bytes, status, mode):
    server, app = echo_server
    app.clear()                          # client ports are reused between tests
    with exchange(server, request_bytes + SMUGGLED, mode) as client:
        responses = parse_complete(client.received)
        assert [r.status for r in responses] == [status], client.received[:400]
        assert responses[0].closes
        assert app.seen_from(client.local_port) == [], \
            "a refused or smuggled request reached the handler"


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
@pytest.mark.parametrize("request_bytes", [
    pytest.param(GET + b"Connection: close\r\n\r\n", id="connection-close"),
    pytest.param(b"GET / HTTP/1.0\r\n\r\n", id="http10"),
    pytest.param(GET + b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", id="upgrade"),
    pytest.param(POST + b"Content-Length: 5\r\nConnection: close\r\n\r\nhello",
                 id="close-with-body"),
])
def test_nothing_after_a_closing_request_is_parsed(echo_server, request_bytes, mode):
    """A request that ends the connection is answered; the bytes after it
    are never parsed as a request."""
    server, app = echo_server
    app.clear()                          # client ports are reused between tests
    with exchange(server, request_bytes + SMUGGLED, mode) as client:
        responses = parse_complete(client.received)
        assert [r.status for r in responses] == [200], client.received[:400]
        assert responses[0].closes
        assert [r["target"] for r in app.seen_from(client.local_port)] == ["/"]


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
def test_the_smuggled_request_is_seen_when_it_is_not_smuggled(echo_server, mode):
    """The detector works: behind a well-formed request, the same bytes are
    parsed, answered and recorded."""
    server, app = echo_server
    app.clear()                          # client ports are reused between tests
    with RawClient(server.port) as client:
        client.send(GET + b"\r\n" + SMUGGLED, mode)
        responses = client.read_responses(2)
        assert [r.status for r in responses] == [200, 200]
        assert [r["target"] for r in app.seen_from(client.local_port)] == ["/", "/smuggled"]


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
@pytest.mark.parametrize("first", [
    pytest.param(POST + b"Content-Length: 5\r\n\r\nhello", id="content-length"),
    pytest.param(CHUNKED + b"5\r\nhello\r\n0\r\n\r\n", id="chunked"),
    pytest.param(CHUNKED + b"5;a=b\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", id="chunked-ext-trailer"),
    # llhttp 9.4.3 (leniencies off) accepts a chunk extension with an empty
    # name or value, which the grammar of RFC 9112 section 7.1.1 does not
    # allow, and httptools does not show extensions to fastcore, so it
    # cannot refuse them. They cannot shift the framing: the size before the
    # ";" and the CRLF that ends the line are parsed as always, and
    # recipients ignore extensions (section 7.1.1). Pinned here: the body is
    # "hello" and what follows is an ordinary pipelined request.
    pytest.param(CHUNKED + b"5;=x\r\nhello\r\n0\r\n\r\n", id="chunk-ext-without-name"),
    pytest.param(CHUNKED + b"5;a=\r\nhello\r\n0\r\n\r\n", id="chunk-ext-empty-value"),
    # Whitespace before a value is never part of it (RFC 9110 section 5.5),
    # SP or HTAB alike; after a length, neither is either.
    pytest.param(POST + b"Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                 id="te-after-a-tab"),
    pytest.param(POST + b"Transfer-Encoding: \t chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                 id="te-after-space-tab-space"),
    pytest.param(POST + b"Content-Length:\t5\t\r\n\r\nhello", id="content-length-between-tabs"),
    pytest.param(POST + b"Content-Length: 5 \r\n\r\nhello", id="content-length-then-space"),
])
def test_a_well_framed_body_ends_where_it_says(echo_server, first, mode):
    """The positive control for the framing vectors: the body ends exactly
    where its framing says, and the next request is the next request."""
    server, app = echo_server
    app.clear()                          # client ports are reused between tests
    with RawClient(server.port) as client:
        client.send(first + SMUGGLED, mode)
        responses = client.read_responses(2)
        assert [r.status for r in responses] == [200, 200]
        assert responses[0].json()["body"] == "hello"
        assert [r["target"] for r in app.seen_from(client.local_port)] == ["/", "/smuggled"]
