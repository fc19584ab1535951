"""Every limit gives the same verdict however the bytes arrive: a request
exactly at a limit is served, one byte over it is refused with the limit's
status and a close, whether it is sent whole, one byte per read, or in
reads that each end right after a CR (before its LF).

The sizes are the README's: max_request_line counts the request line
without its CRLF (method SP target SP HTTP/1.1); max_header_field one field
line "Name: value", len(name) + len(value) + 2; max_header_bytes the header
block, len(name) + len(value) + 4 per field; max_header_count the fields;
max_body the body, by Content-Length or as a chunked body grows.
"""

from __future__ import annotations

import pytest

from apps import EchoApp
from helpers import RawClient, parse_complete, serving

LIMITS = {"max_request_line": 200, "max_header_field": 150, "max_header_bytes": 600,
          "max_header_count": 8, "max_body": 300}


def request_line_of(length: int) -> bytes:
    target = "/" + "t" * (length - len("GET  HTTP/1.1") - 1)
    return f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def field_of(length: int) -> bytes:
    value = "v" * (length - len("X-F") - 2)
    return f"GET / HTTP/1.1\r\nHost: x\r\nX-F: {value}\r\n\r\n".encode()


def block_of(total: int) -> bytes:
    # Host: x is 1 + 4 + 4 = ... counted as len("Host") + len("x") + 4 = 9.
    left = total - 9
    fields = []
    while left > 0:
        size = min(left, 100)                       # name "X-Hnn" (5) + value + 4
        fields.append(f"X-H{len(fields):02d}: " + "v" * (size - 9))
        left -= size
    return ("GET / HTTP/1.1\r\nHost: x\r\n" + "".join(f + "\r\n" for f in fields)
            + "\r\n").encode()


def count_of(count: int) -> bytes:
    fields = "".join(f"X-C{i}: c\r\n" for i in range(count - 1))
    return f"GET / HTTP/1.1\r\nHost: x\r\n{fields}\r\n".encode()


def length_body_of(size: int) -> bytes:
    return (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
            + b"b" * size)


def chunked_body_of(size: int) -> bytes:
    half = size // 2
    chunks = b"".join(f"{n:x}\r\n".encode() + b"b" * n + b"\r\n" for n in (half, size - half))
    return b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


CASES = [
    pytest.param(request_line_of, "max_request_line", 414, id="request-line"),
    pytest.param(field_of, "max_header_field", 431, id="header-field"),
    pytest.param(block_of, "max_header_bytes", 431, id="header-block"),
    pytest.param(count_of, "max_header_count", 431, id="header-count"),
    pytest.param(length_body_of, "max_body", 413, id="content-length-body"),
    pytest.param(chunked_body_of, "max_body", 413, id="chunked-body"),
]


@pytest.fixture(scope="module")
def limited_server():
    app = EchoApp()
    with serving(app, **LIMITS) as running:
        yield running, app


MODES = ["whole", "bytewise", "reads-end-after-cr"]


def exchange(server, data: bytes, mode: str) -> RawClient:
    client = RawClient(server.port)
    if mode == "reads-end-after-cr":
        # Every read of the head ends right after a CR, before its LF.
        head = data[:data.index(b"\r\n\r\n") + 4]
        client.send(data, [i + 1 for i, byte in enumerate(head) if byte == 13], pace=1e-3)
    else:
        client.send(data, mode)
    return client


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("build, limit, status", CASES)
def test_exactly_at_the_limit_is_served(limited_server, build, limit, status, mode):
    running, app = limited_server
    with exchange(running, build(LIMITS[limit]), mode) as client:
        responses = client.read_responses(1)
        assert [r.status for r in responses] == [200], client.received[:300]
        assert client.is_open(), "the connection was closed after a request within the limits"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("build, limit, status", CASES)
def test_one_byte_over_the_limit_is_refused(limited_server, build, limit, status, mode):
    running, app = limited_server
    app.clear()
    with exchange(running, build(LIMITS[limit] + 1), mode) as client:
        client.finish()
        responses = parse_complete(client.received)
        assert [r.status for r in responses] == [status], client.received[:300]
        assert responses[0].closes
        assert app.seen_from(client.local_port) == []


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
def test_a_header_line_longer_than_the_request_line_limit_is_a_header_line(mode):
    """With max_header_field above max_request_line, a header line between
    the two, after a request line at its limit, is served, not mistaken for
    an over-long request line (414)."""
    target = "/" + "t" * (100 - len("GET  HTTP/1.1") - 1)       # a 100-byte line
    field = "X-F: " + "v" * (105 - len("X-F") - 2)              # a 105-byte field
    data = f"GET {target} HTTP/1.1\r\nHost: x\r\n{field}\r\n\r\n".encode()
    with serving(EchoApp(), max_request_line=100, max_header_field=300) as running:
        with exchange(running, data, mode) as client:
            responses = client.read_responses(1)
            assert [r.status for r in responses] == [200], client.received[:300]
            assert responses[0].json()["headers"][1] == ["X-F", field[5:]]


def test_the_builders_make_what_they_say():
    """The sizes above, measured as the README defines them."""
    assert len(request_line_of(200).split(b"\r\n")[0]) == 200
    line = field_of(150).split(b"\r\n")[2]
    name, value = line.split(b": ")
    assert len(name) + len(value) + 2 == 150
    fields = [f.split(b": ") for f in block_of(600).split(b"\r\n")[1:] if f]
    assert sum(len(n) + len(v) + 4 for n, v in fields) == 600
    assert len([f for f in count_of(8).split(b"\r\n")[1:] if f]) == 8
    assert length_body_of(300).endswith(b"\r\n\r\n" + b"b" * 300)
