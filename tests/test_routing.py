"""Routes: exact paths, parameters, methods, and what the App refuses."""

import pytest

import fastcore
from helpers import request_bytes


def test_exact_param_and_path_routes(serve, raw):
    app = fastcore.App()

    @app.route("/users")
    def users(request):
        return b"all users"

    @app.route("/users/{user_id}")
    def user(request):
        return f"user {request.params['user_id']}"

    @app.route("/users/{user_id}/files/{rest:path}")
    def files(request):
        return f"{request.params['user_id']}:{request.params['rest']}"

    @app.route("/caf\u00e9")
    def cafe(request):
        return b"coffee"

    with serve(app) as server:
        client = raw(server.port)
        cases = [("/users", b"all users"), ("/users/7", b"user 7"),
                 ("/users/7/files/a/b.txt", b"7:a/b.txt"),
                 ("/users?sort=name", b"all users"),
                 ("/caf%C3%A9", b"coffee"), ("/users/%37", b"user 7")]
        for path, body in cases:
            client.send(request_bytes(path=path))
            response = client.response()
            assert (path, response.status, response.body) == (path, 200, body)
        client.send(request_bytes(path="/users/7/other"))
        assert client.response().status == 404


def test_methods_and_head(serve, raw):
    app = fastcore.App()

    @app.route("/thing", methods=["GET"])
    def get_thing(request):
        return b"got"

    @app.route("/thing", methods=["POST", "put"])
    def change_thing(request):
        return request.method

    with serve(app) as server:
        client = raw(server.port)
        for method, expected in [("GET", b"got"), ("POST", b"POST"), ("PUT", b"PUT")]:
            client.send(request_bytes(method, "/thing"))
            assert client.response().body == expected
        client.send(request_bytes("DELETE", "/thing"))
        response = client.response()
        assert response.status == 405
        assert response.header("allow") == "GET, HEAD, POST, PUT"


def test_explicit_head_handler_wins(serve, raw):
    app = fastcore.App()

    @app.route("/x")
    def get(request):
        return b"body"

    @app.route("/x", methods=["HEAD"])
    def head(request):
        return fastcore.Response(b"", headers={"X-Head": "1"})

    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes("HEAD", "/x"))
        assert client.response(head=True).header("x-head") == "1"


def test_registration_errors():
    app = fastcore.App()
    app.add_route("/a", lambda r: b"")
    with pytest.raises(ValueError):
        app.add_route("/a", lambda r: b"")
    with pytest.raises(ValueError):
        app.add_route("no-slash", lambda r: b"")
    with pytest.raises(ValueError):
        app.add_route("/{x}/{x}", lambda r: b"")
    with pytest.raises(ValueError):
        app.add_route("/b", lambda r: b"", methods=["GE T"])
    with pytest.raises(TypeError):
        app.add_route("/c", "not callable")
