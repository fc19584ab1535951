"""Each limit answers with its own status and closes the connection, and
refuses before the offending bytes are buffered."""

import pytest

import fastcore
from apps import hello_app
from helpers import ServerHung, request_bytes


def refused(client, status):
    response = client.response()
    assert response.status == status
    assert response.header("connection") == "close"
    assert client.closed()
    return response


def test_request_line_over_limit_is_414(serve, raw):
    with serve(hello_app(), max_request_line=1024) as server:
        ok = raw(server.port)
        ok.send(request_bytes(path="/" + "a" * (1024 - 16)))
        assert ok.response().status == 404              # fits: just unknown
        client = raw(server.port)
        client.send(request_bytes(path="/" + "a" * 1024))
        refused(client, 414)


def test_request_line_is_refused_before_it_ends(serve, raw):
    with serve(hello_app(), max_request_line=1024) as server:
        client = raw(server.port)
        client.send(b"GET /" + b"a" * 4096)              # no end of line yet
        refused(client, 414)


def test_header_field_over_limit_is_431(serve, raw):
    with serve(hello_app(), max_header_field=512) as server:
        client = raw(server.port)
        client.send(request_bytes(headers=[("X-Big", "v" * 600)]))
        refused(client, 431)


def test_unterminated_header_line_is_refused_while_it_grows(serve, raw):
    with serve(hello_app(), max_header_field=512) as server:
        client = raw(server.port)
        client.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        for _ in range(20):
            if not client.send(b"v" * 100):
                break
        refused(client, 431)


def test_header_block_over_limit_is_431(serve, raw):
    with serve(hello_app(), max_header_bytes=2048) as server:
        client = raw(server.port)
        client.send(request_bytes(
            headers=[(f"X-H{i}", "v" * 100) for i in range(30)]))
        refused(client, 431)


def test_too_many_header_fields_is_431(serve, raw):
    with serve(hello_app(), max_header_count=10) as server:
        client = raw(server.port)
        client.send(request_bytes(headers=[(f"X-H{i}", "1") for i in range(10)]))
        refused(client, 431)
        fine = raw(server.port)
        fine.send(request_bytes(headers=[(f"X-H{i}", "1") for i in range(9)]))
        assert fine.response().status == 200


def test_body_over_limit_by_content_length_is_413_before_reading_it(serve, raw):
    with serve(hello_app(), max_body=1000) as server:
        client = raw(server.port)
        # Only the head is sent: the answer must not wait for the body.
        client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n")
        refused(client, 413)
        fine = raw(server.port)
        fine.send(request_bytes("POST", "/echo", body=b"x" * 1000))
        assert fine.response().body == b"x" * 1000


def test_chunked_body_over_limit_is_413(serve, raw):
    with serve(hello_app(), max_body=1000) as server:
        client = raw(server.port)
        client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            client.send(b"190\r\n" + b"y" * 400 + b"\r\n")
        refused(client, 413)


def test_huge_content_length_is_413(serve, raw):
    with serve(hello_app()) as server:
        client = raw(server.port)
        client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999\r\n\r\n")
        refused(client, 413)


def test_connection_cap_holds_new_connections_in_the_backlog(serve, raw):
    with serve(hello_app(), max_connections=2) as server:
        first, second = raw(server.port), raw(server.port)
        for client in (first, second):
            client.send(request_bytes())
            assert client.response().status == 200
        third = raw(server.port)
        third.send(request_bytes())
        with pytest.raises(ServerHung):
            third.response(timeout=0.5)      # held: the cap is reached
        first.close()
        assert third.response().status == 200   # admitted once one closed


@pytest.mark.parametrize("name", [
    "max_request_line", "max_header_field", "max_header_bytes",
    "max_header_count", "max_body", "header_timeout", "keepalive_timeout",
    "max_connections"])
def test_limits_must_be_positive(name):
    with pytest.raises(ValueError):
        fastcore.App(**{name: 0})


def test_unknown_limit_is_a_type_error():
    with pytest.raises(TypeError):
        fastcore.App(max_bodee=5)


def test_endless_trailer_line_is_refused(serve, raw):
    # Bounded like a header block: 431 past max_header_bytes.
    with serve(hello_app(), max_body=1000, max_header_bytes=1000) as server:
        client = raw(server.port)
        client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\nX-Trailer: ")
        for _ in range(40):
            if not client.send(b"t" * 100):
                break
        refused(client, 431)


def test_unterminated_header_line_in_one_read_is_refused(serve, raw):
    # The whole oversized line arrives with the rest of the head in one
    # read, so no later read can reveal it.
    with serve(hello_app(), max_header_field=512) as server:
        client = raw(server.port)
        client.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"v" * 2000)
        refused(client, 431)


def test_the_limits_are_listed_once_for_the_checker_and_once_for_the_engine():
    # Limits is the one definition; LimitOptions (the keyword arguments'
    # types) and the engine's C struct must name the same fields, and every
    # one of them must reach the engine (a limit the engine ignored would
    # be a promise broken silently).
    from fastcore.limits import LimitOptions, Limits

    assert set(LimitOptions.__annotations__) == set(Limits._fields)
    import typing
    for name, kind in typing.get_type_hints(LimitOptions).items():
        assert type(Limits._field_defaults[name]) is kind, name
    import pathlib
    engine = pathlib.Path(fastcore.__file__).with_name("_limits.pxd").read_text()
    reader = pathlib.Path(fastcore.__file__).with_name("_loop.pyx").read_text()
    python_only = {"backlog"}          # listen(2), done by Server in Python
    for name in set(Limits._fields) - python_only:
        assert f" {name}\n" in engine, name
        assert f"values.{name} = limits.{name}" in reader, name
