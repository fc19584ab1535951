"""Request and response semantics: HEAD, bodies (Content-Length and
chunked), Expect: 100-continue, what a handler sees, what it may return."""

import http.client
import json

import fastcore
from helpers import request_bytes


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

    @app.route("/status")
    def status(request):
        return fastcore.Response(b"", status=204, content_type=None)

    @app.route("/cookies")
    def cookies(request):
        return fastcore.Response(b"ok", headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])

    return app


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


def test_unknown_expectation_is_417(serve, raw):
    with serve(inspect_app()) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/inspect", headers=[("Expect", "teapot")]))
        assert client.response().status == 417


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
