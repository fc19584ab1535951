"""Many clients at once."""

from helpers import ServerHung, request_bytes


def test_1000_concurrent_connections_all_answered(server, raw):
    clients = [raw(server.port) for _ in range(1000)]
    for client in clients:
        client.send(request_bytes())
    for index, client in enumerate(clients):
        try:
            response = client.response()
        except ServerHung as exc:
            raise AssertionError(f"client {index} of 1000 was not answered") from exc
        assert (response.status, response.reason, response.body) == (
            200, "OK", b"<h1>Hello, World!</h1>")
    assert server.connections == 1000
