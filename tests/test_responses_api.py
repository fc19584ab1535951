"""What a handler can answer with beyond bytes and a Response: a dict or
list (JSON), ``json_response`` and its encoder hook, ``redirect``, cookies
set and deleted, ``HTTPError`` with a body, and conditional responses for
dynamic content (ETag, 304, 412). Through the test client, except where
the exact bytes on the wire are the point."""

from __future__ import annotations

import datetime
import decimal

import pytest

import fastcore
from helpers import parse_one, request_bytes


# -- JSON ------------------------------------------------------------------------

def test_a_dict_or_list_is_json(client, serve, raw):
    app = fastcore.App()
    app.add_route("/d", lambda request: {"é": [1, 2.5, None, True]})
    app.add_route("/l", lambda request: [{"a": 1}])
    reply = client(app).get("/d")
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    assert reply.body == '{"é":[1,2.5,null,true]}'.encode()
    assert client(app).get("/l").json() == [{"a": 1}]
    # The same bytes on a real socket, whole and one byte at a time.
    with serve(app) as server:
        for mode in ("whole", "bytewise"):
            connection = raw(server.port)
            connection.send(request_bytes("GET", "/d"), mode)
            response = connection.response()
            assert response.header("content-type") == "application/json"
            assert response.json() == {"é": [1, 2.5, None, True]}


def test_what_json_cannot_encode_is_a_500(client, caplog):
    app = fastcore.App()
    app.add_route("/", lambda request: {"when": datetime.date(2024, 1, 2)})
    app.add_route("/nan", lambda request: [float("nan")])
    assert client(app).get("/").status == 500
    assert client(app).get("/nan").status == 500
    assert "not JSON serializable" in caplog.text


def test_the_json_encoder_hook(client):
    app = fastcore.App(json_default=str)
    app.add_route("/", lambda request: {"when": datetime.date(2024, 1, 2),
                                        "price": decimal.Decimal("1.10")})
    assert client(app).get("/").json() == {"when": "2024-01-02", "price": "1.10"}
    plain = fastcore.App()
    plain.json_default = lambda value: value.isoformat()
    plain.add_route("/", lambda request: [datetime.date(2024, 1, 2)])
    assert client(plain).get("/").json() == ["2024-01-02"]


def test_json_response(client):
    app = fastcore.App()
    app.add_route("/", lambda request: fastcore.json_response(
        {"when": datetime.date(2024, 1, 2)}, status=201, headers={"X-A": "b"},
        default=str))
    reply = client(app).get("/")
    assert (reply.status, reply.headers["x-a"]) == (201, "b")
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"when": "2024-01-02"}


# -- redirects ---------------------------------------------------------------------

def test_redirect_has_a_location_and_no_body_nor_content_type(serve, raw):
    app = fastcore.App()
    app.add_route("/old", lambda request: fastcore.redirect("/new place/é?x=1"))
    app.add_route("/perm", lambda request: fastcore.redirect("https://example.org/", 308))
    with serve(app) as server:
        for mode in ("whole", "bytewise"):
            connection = raw(server.port)
            connection.send(request_bytes("GET", "/old"), mode)
            response = connection.response()
            assert response.status == 303
            assert response.header("location") == "/new%20place/%C3%A9?x=1"
            assert response.header("content-type") is None
            assert response.body == b"" and response.header("content-length") == "0"
        connection = raw(server.port)
        connection.send(request_bytes("GET", "/perm"))
        assert connection.response().status == 308


@pytest.mark.parametrize("url, status, error", [
    ("/x", 200, ValueError), ("/x", 304, ValueError), ("/x\r\nX-Evil: 1", 303, ValueError),
    (b"/x", 303, TypeError)])
def test_redirect_refuses_what_is_no_redirect(url, status, error):
    with pytest.raises(error):
        fastcore.redirect(url, status)


# -- cookies -----------------------------------------------------------------------

def test_set_cookie_and_delete_cookie_send_one_field_each(client):
    app = fastcore.App()

    @app.route("/")
    def index(request):
        response = fastcore.Response("ok")
        response.set_cookie("sid", "abc123", max_age=3600, httponly=True, secure=True)
        response.set_cookie("theme", "dark", path="/app", domain="example.org",
                            samesite="Strict",
                            expires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))
        response.delete_cookie("old")
        return response

    reply = client(app).get("/")
    assert reply.headers.get_all("set-cookie") == [
        "sid=abc123; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax",
        "theme=dark; Expires=Tue, 01 Jan 2030 00:00:00 GMT; Domain=example.org; "
        "Path=/app; SameSite=Strict",
        "old=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"]
    assert reply.cookies == {"sid": "abc123", "theme": "dark", "old": ""}


@pytest.mark.parametrize("name, value, options", [
    ("a b", "x", {}), ("a;b", "x", {}), ("", "x", {}),
    ("a", "x;y", {}), ("a", "x\r\nSet-Cookie: evil=1", {}), ("a", "x y", {}),
    ("a", 'x"y', {}), ("a", "é", {}), ("a", "x,y", {}),
    ("a", "x", {"path": "/;evil"}), ("a", "x", {"domain": "a.org\r\n"}),
    ("a", "x", {"samesite": "None"}), ("a", "x", {"samesite": "sometimes"}),
    ("__Secure-a", "x", {}), ("__Host-a", "x", {"secure": True, "path": "/app"}),
    ("a", "x", {"expires": datetime.datetime(2030, 1, 1)}),
])
def test_a_cookie_that_could_change_the_field_is_refused(name, value, options):
    response = fastcore.Response("ok")
    with pytest.raises(ValueError):
        response.set_cookie(name, value, **options)
    assert response.headers == ()                   # nothing half-added


def test_samesite_none_with_secure_and_host_prefix_are_accepted():
    response = fastcore.Response("ok")
    response.set_cookie("a", "x", samesite="None", secure=True)
    response.set_cookie("__Host-b", '"quoted"', secure=True)
    assert [v for _, v in response.headers] == [
        "a=x; Path=/; Secure; SameSite=None", '__Host-b="quoted"; Path=/; Secure; SameSite=Lax']


def test_the_test_client_keeps_and_sends_cookies(client):
    app = fastcore.App()

    @app.route("/login", methods=["POST"])
    def login(request):
        response = fastcore.redirect("/")
        response.set_cookie("user", request.form["user"])
        return response

    @app.route("/logout")
    def logout(request):
        response = fastcore.Response("bye")
        response.delete_cookie("user")
        return response

    app.add_route("/me", lambda request: request.cookies)
    browser = client(app)
    assert browser.post("/login", data={"user": "ann"}).status == 303
    assert browser.cookies == {"user": "ann"}
    assert browser.get("/me").json() == {"user": "ann"}
    browser.get("/logout")
    assert browser.cookies == {}
    assert browser.get("/me").json() == {}


# -- HTTPError ---------------------------------------------------------------------

def test_http_error_with_a_body_a_type_and_fields(client):
    app = fastcore.App()

    @app.route("/text")
    def text(request):
        raise fastcore.HTTPError(403, "<p>no</p>", "text/html; charset=utf-8",
                                 headers={"X-Why": "policy"})

    @app.route("/json")
    def json(request):
        raise fastcore.HTTPError(422, {"error": "bad field", "field": "age"})

    reply = client(app).get("/text")
    assert (reply.status, reply.body, reply.headers["content-type"],
            reply.headers["x-why"]) == (403, b"<p>no</p>", "text/html; charset=utf-8", "policy")
    reply = client(app).get("/json")
    assert (reply.status, reply.headers["content-type"]) == (422, "application/json")
    assert reply.json() == {"error": "bad field", "field": "age"}


def test_http_error_refuses_fields_in_place_of_the_content_type():
    with pytest.raises(TypeError, match="headers="):
        fastcore.HTTPError(400, "x", {"X-A": "b"})          # type: ignore[arg-type]


# -- conditional responses -------------------------------------------------------------

def conditional_app() -> fastcore.App:
    app = fastcore.App()
    state = {"page": "version 1"}

    @app.route("/page", methods=["GET", "PUT"], etag=True)
    def page(request):
        if request.method == "PUT":
            state["page"] = request.body.decode()
        return fastcore.Response(state["page"], headers={"Cache-Control": "no-cache"})

    @app.route("/manual")
    def manual(request):
        response = fastcore.Response("same", headers={"ETag": '"v7"'})
        return fastcore.make_conditional(request, response)

    app.add_route("/other", lambda request: "no etag")
    return app


def test_an_etag_route_answers_304_when_the_copy_is_current(client):
    browser = client(conditional_app())
    first = browser.get("/page")
    tag = first.headers["etag"]
    assert first.status == 200 and tag.startswith('"') and first.body == b"version 1"
    again = browser.get("/page", headers={"If-None-Match": tag})
    assert again.status == 304 and again.body == b""
    assert again.headers["etag"] == tag and again.headers["cache-control"] == "no-cache"
    assert "content-length" not in again.headers
    assert browser.get("/page", headers={"If-None-Match": f'W/{tag}, "x"'}).status == 304
    assert browser.get("/page", headers={"If-None-Match": '"other"'}).status == 200
    assert browser.head("/page", headers={"If-None-Match": tag}).status == 304
    # Changed content, new tag. A PUT gets the ETag of what it stored, and
    # no precondition is judged after the handler acted.
    stored = browser.put("/page", data="version 2", headers={"If-None-Match": tag})
    assert stored.status == 200 and stored.headers["etag"] != tag
    changed = browser.get("/page", headers={"If-None-Match": tag})
    assert changed.status == 200 and changed.headers["etag"] == stored.headers["etag"]


def test_a_failed_if_match_is_412(client):
    browser = client(conditional_app())
    tag = browser.get("/page").headers["etag"]
    assert browser.get("/page", headers={"If-Match": '"stale"'}).status == 412
    assert browser.get("/page", headers={"If-Match": tag}).status == 200


def test_make_conditional_keeps_the_handlers_etag(client):
    browser = client(conditional_app())
    assert browser.get("/manual").headers["etag"] == '"v7"'
    assert browser.get("/manual", headers={"If-None-Match": '"v7"'}).status == 304
    # Routes without etag=True get no validator.
    assert "etag" not in browser.get("/other").headers


def test_a_misspelled_cookie_attribute_is_a_type_error():
    with pytest.raises(TypeError, match="max_ag"):
        fastcore.Response("ok").set_cookie("a", "b", max_ag=3)   # type: ignore[call-arg]
