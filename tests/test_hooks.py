"""Error handlers and before/after hooks: what they render (a handler's
errors, unknown paths, wrong methods, static mounts' missing files), in
which order they run, and that nothing of them is in the way while none is
registered. Through the test client; the static mount over a real socket
too, since the engine serves cached files there by itself."""

from __future__ import annotations

import pytest

import fastcore
from helpers import request_bytes


def site(tmp_path) -> fastcore.App:
    (tmp_path / "index.html").write_text("<h1>home</h1>")
    (tmp_path / "style.css").write_text("body{}")
    app = fastcore.App()
    app.static("/", tmp_path)

    @app.route("/page")
    def page(request):
        return "a page"

    @app.route("/missing")
    def missing(request):
        raise fastcore.HTTPError(404, headers={"X-From": "handler"})

    @app.route("/crash")
    def crash(request):
        raise KeyError("no such thing")

    @app.route("/value")
    def value(request):
        raise ValueError("bad value")

    @app.route("/explicit")
    def explicit(request):
        return fastcore.Response("mine", status=404)

    return app


# -- error handlers ---------------------------------------------------------------

def test_a_404_handler_renders_every_404_the_app_answers(client, tmp_path):
    app = site(tmp_path)
    seen = []

    @app.errorhandler(404)
    def not_found(request, error):
        seen.append((request.path, error.status))
        return f"<h1>nothing at {request.path}</h1>"

    browser = client(app)
    for path in ("/nope", "/missing", "/no/such/file.css"):
        reply = browser.get(path)
        assert (reply.status, reply.text) == (404, f"<h1>nothing at {path}</h1>")
        assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert browser.get("/missing").headers["x-from"] == "handler"
    assert seen[:3] == [("/nope", 404), ("/missing", 404), ("/no/such/file.css", 404)]
    # A handler's own 404 Response is its choice, not an error to render.
    assert browser.get("/explicit").text == "mine"
    # The static files are still served: a 404 page no longer needs a
    # catch-all route that would hide them.
    assert browser.get("/style.css").text == "body{}"
    assert browser.get("/").text == "<h1>home</h1>"


def test_a_405_handler_keeps_allow(client, tmp_path):
    app = site(tmp_path)
    app.errorhandler(405)(lambda request, error: {"error": "method", "allowed":
                                                  dict(error.headers)["Allow"]})
    reply = client(app).post("/page")
    assert reply.status == 405 and reply.headers["allow"] == "GET, HEAD"
    assert reply.json() == {"error": "method", "allowed": "GET, HEAD"}


def test_exception_handlers_take_the_closest_class(client, tmp_path, caplog):
    app = site(tmp_path)
    app.errorhandler(Exception)(lambda request, error: f"oops: {type(error).__name__}")
    app.errorhandler(ValueError)(lambda request, error: fastcore.Response(
        f"value: {error}", status=422))
    browser = client(app)
    crash = browser.get("/crash")
    assert (crash.status, crash.text) == (500, "oops: KeyError")
    assert "KeyError" in caplog.text                # the traceback is still logged
    assert (browser.get("/value").status, browser.get("/value").text) == (422, "value: bad value")
    # HTTPError goes to status handlers, not to Exception's.
    assert browser.get("/missing").status == 404
    assert browser.get("/missing").body == b"404 Not Found\n"


def test_a_500_handler_takes_unhandled_exceptions(client, tmp_path):
    app = site(tmp_path)
    app.errorhandler(500)(lambda request, error: {"error": str(error)})
    reply = client(app).get("/value")
    assert (reply.status, reply.json()) == (500, {"error": "bad value"})


def test_an_error_handler_that_raises_is_a_plain_500(client, tmp_path, caplog):
    app = site(tmp_path)

    @app.errorhandler(404)
    def broken(request, error):
        raise RuntimeError("the 404 page is broken")

    reply = client(app).get("/nope")
    assert (reply.status, reply.body) == (500, b"500 Internal Server Error\n")
    assert "the 404 page is broken" in caplog.text


def test_errorhandler_refuses_what_it_cannot_handle():
    app = fastcore.App()
    with pytest.raises(ValueError):
        app.errorhandler(200)
    with pytest.raises(TypeError):
        app.errorhandler("404")                     # type: ignore[arg-type]


# -- before and after hooks -----------------------------------------------------------

def test_hooks_run_in_order_around_every_request(client, tmp_path):
    app = site(tmp_path)
    order = []

    @app.before_request
    def first(request):
        order.append(("before", request.path))

    @app.after_request
    def stamp(request, response):
        order.append(("after", response.status))
        response.headers = (*response.headers, ("X-Seen", "1"))

    browser = client(app)
    assert browser.get("/page").headers["x-seen"] == "1"
    assert browser.get("/nope").headers["x-seen"] == "1"
    assert browser.get("/crash").status == 500      # unhandled: the engine's own 500
    assert order == [("before", "/page"), ("after", 200), ("before", "/nope"),
                     ("after", 404), ("before", "/crash")]


def test_a_before_hook_may_answer_instead(client, tmp_path):
    app = site(tmp_path)
    called = []
    app.route("/admin")(lambda request: called.append(1) or "secret")

    @app.before_request
    def login_required(request):
        if request.path.startswith("/admin") and "sid" not in request.cookies:
            return fastcore.redirect("/login")
        return None

    browser = client(app)
    reply = browser.get("/admin")
    assert (reply.status, reply.headers["location"]) == (303, "/login")
    assert called == []
    assert browser.get("/admin", headers={"Cookie": "sid=1"}).text == "secret"


def test_an_after_hook_may_replace_the_response(client, tmp_path):
    app = site(tmp_path)
    app.after_request(lambda request, response: fastcore.Response("replaced", status=203))
    reply = client(app).get("/page")
    assert (reply.status, reply.text) == (203, "replaced")


def test_hooks_see_static_files_every_time(serve, raw, tmp_path):
    # The engine answers a static file it has served before from its own
    # cache, without Python; with a hook registered it must not.
    app = site(tmp_path)
    seen = []
    app.before_request(lambda request: seen.append(request.path))
    with serve(app) as server:
        connection = raw(server.port)
        for _ in range(3):
            connection.send(request_bytes("GET", "/style.css"))
            assert connection.response().body == b"body{}"
    assert seen == ["/style.css"] * 3


# -- no hooks, no cost ----------------------------------------------------------------

def test_without_hooks_the_engine_calls_the_handlers_themselves(tmp_path):
    app = site(tmp_path)
    routes = app.engine_routes()
    assert routes[b"/page"][b"GET"] is app._exact["/page"].handlers["GET"]
    app.before_request(lambda request: None)
    assert routes[b"/page"][b"GET"] is not app.engine_routes()[b"/page"][b"GET"]


# -- registering twice ------------------------------------------------------------------

def test_registering_a_route_twice_is_an_error_unless_replace(client):
    app = fastcore.App()
    app.route("/")(lambda request: "one")
    with pytest.raises(ValueError, match="already registered.*replace=True"):
        app.route("/")(lambda request: "two")
    app.route("/", replace=True)(lambda request: "three")
    assert client(app).get("/").text == "three"
    assert client(app).head("/").status == 200


def test_hooks_with_a_handler_pool_and_inline_routes(client):
    import threading

    app = fastcore.App(threads=2)
    app.route("/pooled")(lambda request: threading.current_thread().name)
    app.route("/inline", inline=True)(lambda request: threading.current_thread().name)
    app.after_request(lambda request, response: fastcore.Response(
        response.body + b" (hooked)"))
    browser = client(app)
    pooled, inline = browser.get("/pooled").text, browser.get("/inline").text
    assert pooled.endswith("(hooked)") and inline.endswith("(hooked)")
    # The wrapped inline handler is still recognised as inline: it runs on
    # the loop's thread, the pooled one elsewhere.
    assert inline.startswith("fastcore:test-client")
    assert not pooled.startswith("fastcore:test-client")
