"""Bad input gets a precise status, handler failures a 500, and neither
takes the server down."""

import logging

import pytest

import fastcore
from helpers import request_bytes


def test_handler_exception_is_500_with_logged_traceback(server, raw, caplog):
    client = raw(server.port)
    with caplog.at_level(logging.ERROR, logger="fastcore"):
        client.send(request_bytes(path="/boom"))
        response = client.response()
    assert response.status == 500
    assert b"Traceback" not in response.body and b"boom" not in response.body
    records = [r for r in caplog.records if r.name == "fastcore"]
    assert records and records[0].exc_info[0] is RuntimeError
    assert "GET /boom" in records[0].getMessage()
    # The same connection goes on.
    client.send(request_bytes())
    assert client.response().status == 200


def test_handler_returning_the_wrong_type_is_500(serve, raw):
    app = fastcore.App()

    @app.route("/")
    def wrong(request):
        return 42

    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes() + request_bytes())
        assert client.response().status == 500
        assert client.response().status == 500


def test_http_error_from_a_handler(serve, raw):
    app = fastcore.App()

    @app.route("/teapot")
    def teapot(request):
        raise fastcore.HTTPError(418, "short and stout", headers={"X-Why": "tea"})

    @app.route("/forbidden")
    def forbidden(request):
        raise fastcore.HTTPError(403)

    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/teapot") + request_bytes(path="/forbidden"))
        teapot = client.response()
        assert (teapot.status, teapot.body, teapot.header("x-why")) == (
            418, b"short and stout", "tea")
        forbidden = client.response()
        assert (forbidden.status, forbidden.body) == (403, b"403 Forbidden\n")


@pytest.mark.parametrize("request_line", [
    b"GET\r\n\r\n",
    b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"GET / FTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.x\r\nHost: x\r\n\r\n",
    b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET foo/bar HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",          # a TLS hello
], ids=lambda b: repr(b[:24]))
def test_malformed_request_line_is_400_and_close(server, raw, request_line):
    client = raw(server.port)
    client.send(request_line)
    response = client.response()
    assert response.status == 400
    assert client.closed()


@pytest.mark.parametrize("header", [
    b"Bad Name: x",
    b"Name : x",
    b"Name\x00: x",
    b"Name: a\x00b",
    b"Name: a\x07b",
    b"NoColon",
    b" Folded: x",
    b"Name: \xff\x01",
], ids=repr)
def test_malformed_header_is_400_and_close(server, raw, header):
    client = raw(server.port)
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
    assert client.response().status == 400
    assert client.closed()


def test_unknown_method_is_501(server, raw):
    client = raw(server.port)
    client.send(b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert client.response().status == 501
    assert client.closed()


def test_known_method_no_route_uses_is_501(server, raw):
    client = raw(server.port)
    client.send(request_bytes("PROPFIND", "/"))
    assert client.response().status == 501


def test_unknown_path_is_404_and_keeps_the_connection(server, raw):
    client = raw(server.port)
    client.send(request_bytes(path="/nowhere"))
    response = client.response()
    assert response.status == 404 and response.header("connection") is None
    client.send(request_bytes())
    assert client.response().status == 200


def test_wrong_method_is_405_with_allow(server, raw):
    client = raw(server.port)
    client.send(request_bytes("DELETE", "/"))
    response = client.response()
    assert response.status == 405
    assert response.header("allow") == "GET, HEAD"


def test_http11_without_host_is_400(server, raw):
    client = raw(server.port)
    client.send(b"GET / HTTP/1.1\r\n\r\n")
    assert client.response().status == 400
    assert client.closed()


def test_http10_without_host_is_fine(server, raw):
    client = raw(server.port)
    client.send(b"GET / HTTP/1.0\r\n\r\n")
    assert client.response().status == 200


def test_unsupported_http_version_is_505(server, raw):
    client = raw(server.port)
    client.send(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
    assert client.response().status == 505
    assert client.closed()


def test_client_that_vanishes_mid_response_costs_only_its_connection(serve, raw):
    app = fastcore.App()
    big = b"z" * (16 * 1024 * 1024)

    @app.route("/big")
    def handler(request):
        return big

    @app.route("/")
    def index(request):
        return b"still here"

    with serve(app) as server:
        for _ in range(5):
            vanishing = raw(server.port)
            vanishing.send(request_bytes(path="/big"))
            assert vanishing.read_head().status == 200
            vanishing.reset()                     # a reset instead of a clean close
        client = raw(server.port)
        client.send(request_bytes())
        assert client.response().body == b"still here"


def test_response_header_injection_is_refused():
    with pytest.raises(ValueError):
        fastcore.Response(b"", headers={"X-Evil": "a\r\nSet-Cookie: x=1"})
    with pytest.raises(ValueError):
        fastcore.Response(b"", headers={"Bad Name": "x"})
    with pytest.raises(ValueError):
        fastcore.Response(b"", headers={"Content-Length": "5"})


def test_handler_building_a_bad_response_gets_500(serve, raw):
    app = fastcore.App()

    @app.route("/")
    def handler(request):
        return fastcore.Response(b"", headers={"X": "a\nb"})

    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes())
        assert client.response().status == 500
