"""Connection persistence (RFC 9112 section 9.3): HTTP/1.1 stays open by
default, HTTP/1.0 only when it asks, and "Connection: close" is honoured."""

import http.client

from helpers import request_bytes


def test_many_requests_reuse_one_socket(server):
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    client.connect()
    local = client.sock.getsockname()
    for i in range(50):
        client.request("POST", "/echo", body=f"request {i}".encode())
        response = client.getresponse()
        assert response.status == 200
        assert response.read() == f"request {i}".encode()
        assert client.sock.getsockname() == local      # the same connection
    client.close()
    assert server.connections <= 1


def test_http11_connection_close_is_honoured(server, raw):
    client = raw(server.port)
    client.send(request_bytes(headers=[("Connection", "close")]))
    response = client.response()
    assert response.status == 200
    assert response.header("connection") == "close"
    assert client.closed()


def test_http10_closes_by_default(server, raw):
    client = raw(server.port)
    client.send(b"GET / HTTP/1.0\r\n\r\n")
    response = client.response()
    assert response.status == 200
    assert response.header("connection") == "close"
    assert response.body == b"<h1>Hello, World!</h1>"
    assert client.closed()


def test_http10_keep_alive_when_asked(server, raw):
    client = raw(server.port)
    for _ in range(3):
        client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        response = client.response()
        assert response.status == 200
        assert response.header("connection") == "keep-alive"
    client.send(b"GET / HTTP/1.0\r\n\r\n")
    assert client.response().header("connection") == "close"
    assert client.closed()


def test_every_response_has_length_date_and_server(server, raw):
    client = raw(server.port)
    for path in ("/", "/missing", "/boom"):
        client.send(request_bytes(path=path))
        response = client.response()
        assert response.header("content-length") == str(len(response.body))
        assert response.header("server") == "fastcore"
        date = response.header("date")
        assert date is not None and date.endswith(" GMT") and len(date) == 29
        assert response.header("transfer-encoding") is None


def test_requests_after_close_request_are_not_answered(server, raw):
    client = raw(server.port)
    client.send(request_bytes(headers=[("Connection", "close")]) + request_bytes())
    assert client.response().status == 200
    assert client.closed()
    assert client.received == b"", "the request after the close was answered"
