"""Pipelined requests are answered in order, however the bytes arrive."""

import fastcore
from helpers import request_bytes


def numbered_app():
    app = fastcore.App()

    @app.route("/n/{number}")
    def number(request):
        return request.params["number"].encode()

    @app.route("/echo", methods=["POST"])
    def echo(request):
        return request.body

    return app


def test_100_pipelined_requests_in_one_send(serve, raw):
    with serve(numbered_app()) as server:
        client = raw(server.port)
        client.send(b"".join(request_bytes(path=f"/n/{i}") for i in range(100)))
        for i in range(100):
            response = client.response()
            assert response.status == 200
            assert response.body == str(i).encode()


def test_pipelined_requests_with_bodies_and_errors(serve, raw):
    with serve(numbered_app()) as server:
        client = raw(server.port)
        client.send(request_bytes("POST", "/echo", body=b"first")
                    + request_bytes(path="/missing")
                    + request_bytes("POST", "/echo", body=b"third"))
        assert client.response().body == b"first"
        assert client.response().status == 404
        assert client.response().body == b"third"


def test_request_delivered_one_byte_at_a_time(serve, raw):
    with serve(numbered_app()) as server:
        client = raw(server.port)
        data = (request_bytes("POST", "/echo", body=b"hello, byte by byte",
                              headers=[("X-Long", "v" * 100)])
                + request_bytes(path="/n/2"))
        assert client.send(data, "bytewise")
        assert client.response().body == b"hello, byte by byte"
        assert client.response().body == b"2"


def test_pipelined_head_and_get_keep_framing(serve, raw):
    with serve(numbered_app()) as server:
        client = raw(server.port)
        client.send(request_bytes("HEAD", "/n/5") + request_bytes(path="/n/6"))
        head = client.response(head=True)
        assert head.status == 200 and head.header("content-length") == "1"
        assert client.response().body == b"6"
