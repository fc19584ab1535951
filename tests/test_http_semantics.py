"""Request and response semantics: HEAD, bodies (Content-Length and
chunked), Expect: 100-continue, what a handler sees, what it may return."""

import http.client
import json

import pytest

import fastcore
from apps import BIG_BODY
from helpers import RawClient, parse_complete, request_bytes

MODES = ["whole", "bytewise"]


def inspect_app():
    app = fastcore.App()

    @app.route("/inspect/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"])
    @app.route("/inspect", methods=["GET", "POST", "PUT", "DELETE"])
    def inspect(request):
        return fastcore.Response(json.dumps({
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "target": request.target,
            "headers": request.headers.items(),
            "body": request.body.decode("latin-1"),
            "params": request.params,
            "client": list(request.client),
            "version": request.version,
            "keep_alive": request.keep_alive,
        }), content_type="application/json")

    @app.route("/text")
    def text(request):
        return "héllo wörld"

    @app.route("/markup")
    def markup(request):
        return Markup("<b>bold</b>")

    @app.route("/big")
    def big(request):
        return BIG_BODY

    @app.route("/status")
    def status(request):
        return fastcore.Response(b"", status=204, content_type=None)

    @app.route("/cookies")
    def cookies(request):
        return fastcore.Response(b"ok", headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])

    return app


class Markup(str):
    """A str subclass, as template engines return (markupsafe.Markup)."""

    def __str__(self):
        return "not what is sent"

    def encode(self, *args, **kwargs):
        return b"not what is sent either"


def call(port, method, path, body=None, headers=None):
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    client.request(method, path, body=body, headers=headers or {})
    response = client.getresponse()
    data = response.read()
    client.close()
    return response, data


def test_handler_sees_the_request(serve):
    with serve(inspect_app()) as server:
        response, data = call(server.port, "POST", "/inspect/a%20b/c?x=1&y=%20",
                              body=b"payload", headers={"X-One": "1", "x-one": "2"})
        seen = json.loads(data)
        assert response.status == 200
        assert seen["method"] == "POST"
        assert seen["path"] == "/inspect/a b/c"
        assert seen["query"] == "x=1&y=%20"
        assert seen["target"] == "/inspect/a%20b/c?x=1&y=%20"
        assert seen["params"] == {"rest": "a b/c"}
        assert seen["body"] == "payload"
        assert ["X-One", "1"] in seen["headers"] and ["x-one", "2"] in seen["headers"]
        assert seen["client"][0] == "127.0.0.1"
        assert seen["version"] == "1.1" and seen["keep_alive"] is True


def test_headers_are_case_insensitive_and_multi_valued(serve, raw):
    seen = {}
    app = fastcore.App()

    @app.route("/")
    def handler(request):
        headers = request.headers
        seen.update(first=headers["X-Multi"], all=headers.get_all("x-multi"),
                    missing=headers.get("nope", "default"),
                    has="X-MULTI" in headers, count=len(headers))
        return b""

    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes(headers=[("X-Multi", "a"), ("x-multi", "b")]))
        assert client.response().status == 200
    assert seen == {"first": "a", "all": ["a", "b"], "missing": "default",
                    "has": True, "count": 3}


def test_head_sends_headers_only(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(request_bytes("HEAD", "/text") + request_bytes(path="/text"))
        head = client.response(head=True)
        full = client.response()
        assert head.status == 200
        assert head.header("content-length") == str(len("héllo wörld".encode()))
        assert full.body == "héllo wörld".encode()


def test_str_is_utf8_html(serve):
    with serve(inspect_app()) as server:
        response, data = call(server.port, "GET", "/text")
        assert response.getheader("content-type") == "text/html; charset=utf-8"
        assert data.decode("utf-8") == "héllo wörld"


def test_a_str_subclass_is_sent_like_str(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/markup"))
        response = client.response()
        assert response.status == 200 and response.body == b"<b>bold</b>"
        assert response.header("content-type") == "text/html; charset=utf-8"


def test_204_has_no_body_and_no_length(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/status") + request_bytes(path="/text"))
        response = client.response()
        assert response.status == 204 and response.header("content-length") is None
        assert client.response().status == 200


def test_repeated_response_fields(serve):
    with serve(inspect_app()) as server:
        response, _ = call(server.port, "GET", "/cookies")
        assert response.headers.get_all("Set-Cookie") == ["a=1", "b=2"]


def test_chunked_request_body(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(b"POST /inspect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n")
        seen = json.loads(client.response().body)
        assert seen["body"] == "hello, world"
        assert ["X-Trailer", "t"] not in seen["headers"]


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def test_expect_100_continue_is_answered_before_the_body(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(b"PUT /inspect HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                    b"Expect: 100-continue\r\n\r\n")
        client.read_at_least(len(CONTINUE))
        assert client.received == CONTINUE
        client.send(b"data")
        response = client.response()
        assert response.informational == [100]
        assert response.status == 200
        assert json.loads(response.body)["body"] == "data"


def test_expect_100_continue_with_too_big_body_is_413_not_100(serve, raw):
    with serve(inspect_app(), max_body=10) as server:
        client = raw(server.port)
        client.send(b"PUT /inspect HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
                    b"Expect: 100-continue\r\n\r\n")
        response = client.response()
        assert response.status == 413 and response.informational == []


@pytest.mark.parametrize("mode", MODES)
def test_100_continue_waits_for_the_responses_before_it(serve, raw, mode):
    """Interim responses go out in request order (RFC 9110 section 15.2):
    behind a response big enough to stay queued (over write_high_water),
    a pipelined request's 100 Continue comes after that response, never in
    or before it."""
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/big") + b"PUT /inspect HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 4\r\nExpect: 100-continue\r\n\r\n", mode)
        first = client.response()
        assert first.informational == [] and first.body == BIG_BODY
        client.read_at_least(len(CONTINUE))
        assert client.received == CONTINUE
        client.send(b"data", mode)
        second = client.response()
        assert second.informational == [100]
        assert json.loads(second.body)["body"] == "data"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("value, continues", [
    ("", False), (" ", False), (",", False),
    ("100-continue, ", True), (" , 100-Continue", True), ("100-continue,100-continue", True),
])
def test_expect_is_a_list(serve, raw, value, continues, mode):
    """RFC 9110 section 10.1.1: Expect = #expectation, whose empty members
    are ignored (section 5.6.1): an empty field expects nothing."""
    head = (b"PUT /inspect HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
            + f"Expect: {value}\r\n\r\n".encode("ascii"))
    with serve(inspect_app()) as server:
        client = raw(server.port)
        if continues:
            client.send(head, mode)
            client.read_at_least(len(CONTINUE))
            assert client.received == CONTINUE
            client.send(b"data")
        else:
            # The body in a read of its own, after the head.
            if mode == "whole":
                client.send(head + b"data", [len(head)], pace=0.01)
            else:
                client.send(head + b"data", mode)
        response = client.response()
        assert response.status == 200 and json.loads(response.body)["body"] == "data"
        assert response.informational == ([100] if continues else [])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("value", [
    "teapot", "100-continue, teapot", "100-continue=1", "101-continue"])
def test_unknown_expectation_is_417(serve, raw, value, mode):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/inspect", headers=[("Expect", value)]), mode)
        assert client.response().status == 417
        assert client.closed()


# -- HTTP/1.x with a higher minor version (RFC 9110 section 6.2) ---------------

# Four requests, each in a version above 1.1 but the third, one with a body.
HIGHER_MINORS = (b"GET /inspect/a HTTP/1.2\r\nHost: x\r\n\r\n"
                 b"POST /inspect/b HTTP/1.9\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                 b"GET /inspect/c HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET  /inspect/d  HTTP/1.3\r\nHost: x\r\nConnection: close\r\n\r\n")


def check_higher_minors(responses):
    assert [r.status for r in responses] == [200] * 4
    seen = [json.loads(r.body) for r in responses]
    assert [s["path"] for s in seen] == ["/inspect/a", "/inspect/b", "/inspect/c", "/inspect/d"]
    assert [s["version"] for s in seen] == ["1.1"] * 4
    assert seen[1]["body"] == "hello"
    assert [r.closes for r in responses] == [False, False, False, True]


@pytest.mark.parametrize("mode", MODES)
def test_a_higher_minor_version_is_answered_as_http11(serve, raw, mode):
    """A recipient treats HTTP/1.x with x > 1 as the highest minor version
    it implements: these are HTTP/1.1 requests, answered in HTTP/1.1."""
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(HIGHER_MINORS, mode)
        client.finish()
        check_higher_minors(parse_complete(client.received))


def test_a_higher_minor_version_however_the_reads_are_cut(serve):
    """llhttp refuses the version at its minor digit, and fastcore parses
    again from a place it knows: the read's start (between requests), the
    line's start (a line split across reads) or the end of the request
    the read began in. Every cut of the stream gives the same answers."""
    after_body = (b"POST /inspect/p HTTP/1.1\r\nHost: x\r\nContent-Length: 25\r\n\r\n"
                  b"GET /inspect/a HTTP/1.2\r\n")
    with serve(inspect_app()) as server:
        for stream in (HIGHER_MINORS, after_body + HIGHER_MINORS):
            for cut in range(1, len(stream)):
                with RawClient(server.port) as client:
                    client.send(stream, [cut], pace=0.002)
                    client.finish()
                    responses = parse_complete(client.received)
                if stream is not HIGHER_MINORS:
                    body = json.loads(responses.pop(0).body)["body"]
                    assert body == "GET /inspect/a HTTP/1.2\r\n", cut
                check_higher_minors(responses)


def test_a_higher_minor_version_after_a_chunked_request_in_the_same_read(serve, raw):
    """The one place fastcore cannot tell where the line began: a read that
    began inside a chunked request and ends it (chunk data may hold any
    bytes). That request is answered, the next refused with 505 and the
    connection closed; nothing is parsed from an unknown place."""
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(b"POST /inspect/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3\r\nabc\r\n", [5], pace=0.002)
        client.send(b"0\r\n\r\nGET /inspect/a HTTP/1.2\r\nHost: x\r\n\r\n")
        assert client.closed()
        assert [r.status for r in parse_complete(client.received)] == [200, 505]


def test_absolute_form_target(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(b"GET http://example.com/inspect/x?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        seen = json.loads(client.response().body)
        assert seen["path"] == "/inspect/x" and seen["query"] == "q=1"


def test_options_asterisk(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        response = client.response()
        assert response.status == 204 and "GET" in response.header("allow")


def test_connect_is_501(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        assert client.response().status == 501
        assert client.closed()


def test_upgrade_request_is_answered_then_closed(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/inspect", headers=[
            ("Connection", "Upgrade"), ("Upgrade", "websocket")]) + request_bytes())
        response = client.response()
        assert response.status == 200 and response.header("connection") == "close"
        assert client.closed()


def test_duplicate_host_or_content_length_is_400(serve, raw):
    with serve(inspect_app()) as server:
        for extra in ([("Host", "y")], [("Content-Length", "1"), ("Content-Length", "1")]):
            client = raw(server.port)
            client.send(request_bytes("POST", "/inspect", headers=extra))
            assert client.response().status == 400
            assert client.closed()
