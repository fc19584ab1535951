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


MODES = ["whole", "bytewise"]

# Request lines refused with 400 before anything else about them counts
# (RFC 9112 section 3: method SP request-target SP HTTP-version CRLF;
# section 2.3: HTTP-version is "HTTP/" DIGIT "." DIGIT).
MALFORMED_REQUEST_LINES = [
    b"GET\r\n\r\n",
    b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"GET / FTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.x\r\nHost: x\r\n\r\n",
    b"GET / HTTP/11\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.10\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.2 x\r\nHost: x\r\n\r\n",
    b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET foo/bar HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",          # a TLS hello
    # No version at all, whatever the method: malformed, judged before
    # the method is (an unknown method would otherwise be 501).
    b"HELLO THERE\r\n\r\n",
    b"BREW /\r\nHost: x\r\n\r\n",
    b"BREW / HTTP/1\r\nHost: x\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET /\r\nHost: x\r\n\r\n",
    # HTTP/0.9 never wrote a version: a line that claims one is malformed.
    b"GET / HTTP/0.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/0.8\r\nHost: x\r\n\r\n",
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("request_line", MALFORMED_REQUEST_LINES, ids=lambda b: repr(b[:24]))
def test_malformed_request_line_is_400_and_close(server, raw, request_line, mode):
    client = raw(server.port)
    client.send(request_line, mode)
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


# Well-formed request lines whose method llhttp does not know.
UNKNOWN_METHOD_LINES = [
    b"BREW / HTTP/1.1", b"HELLO / HTTP/1.1", b"get / HTTP/1.1", b"BREW / HTTP/1.2",
    b"BREW * HTTP/1.1", b"BREW http://x/ HTTP/1.1",
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("request_line", UNKNOWN_METHOD_LINES)
def test_unknown_method_is_501(server, raw, request_line, mode):
    """A well-formed request line with a method nobody here implements
    (RFC 9110 section 9.1)."""
    client = raw(server.port)
    client.send(request_line + b"\r\nHost: x\r\n\r\n", mode)
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


UNSUPPORTED_VERSIONS = [b"2.0", b"2.1", b"3.1", b"9.9"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", UNSUPPORTED_VERSIONS)
def test_unsupported_http_version_is_505(server, raw, version, mode):
    """Another major version than 1 (RFC 9110 section 15.6.6)."""
    client = raw(server.port)
    client.send(b"GET / HTTP/" + version + b"\r\nHost: x\r\n\r\n", mode)
    assert client.response().status == 505
    assert client.closed()


# -- Host (RFC 9112 section 3.2: Host = uri-host [ ":" port ]) ----------------

# Refused with 400: not a uri-host of RFC 3986 section 3.2.2 (reg-name,
# IPv4address, or an IP-literal in brackets) with an optional port of
# digits, or a reg-name with an empty DNS label.
BAD_HOSTS = [
    "a b", "a\tb", "a/../b", "a/b", "/", "user@a", "user:pw@a", "@a",
    "..", "a..b", ".a", ".", "a\\b", "a?b", "a#b", 'a"b', "a<b", "a{b", "a|b", "a^b",
    "a`b", "a:b", "a:80:80", "a:-1", "a:8 0", "[::1", "[::1]x", "[::g]", "[1.2.3.4]",
    "[]", "[v1]", "[v.x]", "[::1%25eth0]", "::1", "%zz", "%4", "a\xffb", "a\x80",
]
# Accepted: names, addresses and ports of any length the grammar allows,
# a trailing dot (the DNS root), and an empty Host (section 3.2: sent when
# the target has no authority).
GOOD_HOSTS = [
    "x", "example.com", "example.com.", "EXAMPLE.com:8080", "a-b_c~d", "1.2.3.4",
    "1.2.3.4:80", "999.1.1.1", "[::1]", "[::1]:8080", "[2001:db8::1]",
    "[::ffff:1.2.3.4]", "[v1.x:y]", "a:", "localhost:99999", "", "%41", "a!$&'()*+,;=b",
]


def host_request(host: str, version: str = "1.1") -> bytes:
    return f"GET / HTTP/{version}\r\nHost: {host}\r\n\r\n".encode("latin-1")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("host", BAD_HOSTS, ids=repr)
def test_an_invalid_host_is_400_and_close(server, raw, host, mode):
    client = raw(server.port)
    client.send(host_request(host), mode)
    assert client.response().status == 400
    assert client.closed()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("host", GOOD_HOSTS, ids=repr)
def test_a_valid_host_is_served(server, raw, host, mode):
    client = raw(server.port)
    client.send(host_request(host), mode)
    assert client.response().status == 200
    assert client.is_open()


@pytest.mark.parametrize("request_bytes_", [
    host_request("a b", "1.0"),
    b"GET http://x/ HTTP/1.1\r\nHost: a/b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a b  \r\n\r\n",
], ids=["http10", "absolute-form", "trailing-space"])
def test_an_invalid_host_is_400_whatever_else_the_request_says(server, raw, request_bytes_):
    client = raw(server.port)
    client.send(request_bytes_)
    assert client.response().status == 400
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


# -- handlers that answer with something that cannot be sent ----------------

def test_http_error_204_and_304_are_answered_as_such(serve, raw):
    """Statuses without a body (RFC 9110 sections 15.3.5 and 15.4.5):
    no body, no Content-Length, and the connection goes on."""
    app = fastcore.App()

    @app.route("/{status}")
    def handler(request):
        raise fastcore.HTTPError(int(request.params["status"]), "ignored", headers={"X-Why": "because"})

    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/204") + request_bytes(path="/304")
                    + request_bytes("HEAD", "/304") + request_bytes(path="/404"))
        for status, head in [(204, False), (304, False), (304, True)]:
            response = client.response(head=head)
            assert (response.status, response.body, response.header("x-why")) == (
                status, b"", "because")
            assert response.header("content-length") is None
        assert client.response().status == 404


UNSENDABLE = {
    "status-0": lambda: fastcore.HTTPError(0),
    "status-99": lambda: fastcore.HTTPError(99),
    "status-101": lambda: fastcore.HTTPError(101),
    "status-600": lambda: fastcore.HTTPError(600),
    "status-1000": lambda: fastcore.HTTPError(1000),
    "status-negative": lambda: fastcore.HTTPError(-404),
    "cr-lf-in-a-field-value": lambda: fastcore.HTTPError(400, headers={"X": "a\r\nSet-Cookie: x"}),
    "lf-in-a-field-value": lambda: fastcore.HTTPError(400, headers={"X": "a\nb"}),
    "cr-lf-in-a-field-name": lambda: fastcore.HTTPError(400, headers={"X\r\nY": "1"}),
    "a-field-the-server-sets": lambda: fastcore.HTTPError(400, headers={"Content-Length": "1"}),
    "detail-of-the-wrong-type": lambda: fastcore.HTTPError(400, 42),
}


@pytest.mark.parametrize("name", list(UNSENDABLE))
def test_an_http_error_that_cannot_be_sent_is_a_logged_500(serve, raw, caplog, name):
    """HTTPError(0), a status out of range or a field that would split the
    response: a plain 500 with the traceback logged, and the request
    pipelined after it is still answered."""
    app = fastcore.App()

    @app.route("/bad")
    def bad(request):
        raise UNSENDABLE[name]()

    @app.route("/")
    def good(request):
        return b"fine"

    with serve(app) as server, caplog.at_level(logging.ERROR, logger="fastcore"):
        client = raw(server.port)
        client.send(request_bytes(path="/bad") + request_bytes())
        failed = client.response()
        assert (failed.status, failed.body) == (500, b"500 Internal Server Error\n")
        assert b"Set-Cookie" not in failed.body and failed.header("set-cookie") is None
        assert client.response().body == b"fine"
        assert client.is_open()
    records = [r for r in caplog.records if r.name == "fastcore"]
    assert len(records) == 1 and records[0].exc_info is not None
    assert "GET /bad" in records[0].getMessage()


def test_a_str_with_lone_surrogates_is_a_logged_500(serve, raw, caplog):
    """Not UTF-8 encodable: a 500, and the connection goes on."""
    app = fastcore.App()

    @app.route("/bad")
    def bad(request):
        return "half a pair: \ud800"

    @app.route("/")
    def good(request):
        return "fine"

    with serve(app) as server, caplog.at_level(logging.ERROR, logger="fastcore"):
        client = raw(server.port)
        client.send(request_bytes(path="/bad") + request_bytes())
        assert client.response().status == 500
        assert client.response().body == b"fine"
        assert client.is_open()
    records = [r for r in caplog.records if r.name == "fastcore"]
    assert len(records) == 1 and records[0].exc_info[0] is UnicodeEncodeError
