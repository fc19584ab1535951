"""A real Django project (tests/django_site: DEBUG off, no database)
served with ``fastcore.Server(get_wsgi_application())``: a view, a form
POST with its CSRF token and cookie, redirects, the URL resolver's 404,
a refused Host, a failing view, a chunked upload, and the project mounted
under a prefix. Requests are sent whole and byte by byte."""

from __future__ import annotations

import json
import logging
import os

import pytest

import fastcore
from conftest import require_module
from helpers import CookieClient, request_bytes, serving

MODES = ["whole", "bytewise"]
FORM = [("Content-Type", "application/x-www-form-urlencoded")]


@pytest.fixture(scope="session")
def django_app():
    """Django configured once for the test session, and its WSGI
    application."""
    django = require_module("django")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")
    django.setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


@pytest.fixture
def site(django_app):
    with serving(django_app) as server:
        yield server.port


@pytest.mark.parametrize("mode", MODES)
def test_a_view(site, mode):
    with CookieClient(site) as client:
        response = client.request("GET", "/", mode=mode)
        assert (response.status, response.body) == (200, b"Hello from Django")
        assert response.header("content-type") == "text/plain"
        article = client.request("GET", "/articles/2024/?page=3", mode=mode)
        assert article.json() == {"year": 2024, "path": "/articles/2024/", "script_name": "",
                                  "page": "3"}


@pytest.mark.parametrize("mode", MODES)
def test_a_form_post_with_its_csrf_token(site, mode):
    with CookieClient(site) as client:
        page = client.request("GET", "/form/", mode=mode)
        token = page.json()["csrf"]
        assert "csrftoken" in client.cookies
        # Without the token, or with the cookie alone: refused.
        assert client.request("POST", "/form/", body=b"name=ada", headers=FORM,
                              mode=mode).status == 403
        bare = CookieClient(site)
        assert bare.request("POST", "/form/", body=f"csrfmiddlewaretoken={token}&name=ada".encode(),
                            headers=FORM, mode=mode).status == 403
        bare.close()
        # The token in the form and the cookie with it: accepted.
        response = client.request(
            "POST", "/form/", headers=FORM, mode=mode,
            body=f"csrfmiddlewaretoken={token}&name=Ada+L&lang=en&lang=fr".encode())
        assert response.status == 200
        assert response.json() == {"name": "Ada L", "langs": ["en", "fr"]}
        # Or in the X-CSRFToken header, as scripts send it.
        response = client.request("POST", "/form/", body=b"name=js", mode=mode,
                                  headers=FORM + [("X-CSRFToken", token)])
        assert response.json() == {"name": "js", "langs": []}


def test_redirects(site):
    with CookieClient(site) as client:
        response = client.request("GET", "/go/")
        assert (response.status, response.header("location")) == (302, "/articles/2024/?page=2")
        assert client.request("GET", response.header("location")).json()["page"] == "2"
        # CommonMiddleware's APPEND_SLASH: a path that resolves only with
        # its slash is sent there.
        response = client.request("GET", "/form")
        assert (response.status, response.header("location")) == (301, "/form/")


@pytest.mark.parametrize("mode", MODES)
def test_a_404_from_the_url_resolver(site, mode, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"), CookieClient(site) as client:
        for path in ("/nowhere/", "/articles/notayear/"):
            response = client.request("GET", path, mode=mode)
            assert response.status == 404 and b"Not Found" in response.body
        assert client.request("GET", "/", mode=mode).status == 200        # still open
    assert [r.getMessage() for r in caplog.records if r.name == "django.request"] == [
        "Not Found: /nowhere/", "Not Found: /articles/notayear/"]


def test_a_host_not_allowed_and_a_failing_view(site, caplog):
    with caplog.at_level(logging.ERROR, logger="django"), CookieClient(site) as client:
        client.raw.send(request_bytes("GET", "/", host="evil.example"))
        assert client.raw.response().status == 400
        response = client.request("GET", "/crash/")
        assert response.status == 500 and not response.closes
        assert client.request("GET", "/").status == 200
    crashes = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert len(crashes) == 1 and crashes[0].name == "django.request"


@pytest.mark.parametrize("mode", MODES)
def test_a_chunked_upload_reaches_the_view(site, mode):
    # Django reads CONTENT_LENGTH bytes of wsgi.input, nothing more.
    body = b"first piece, second piece"
    with CookieClient(site) as client:
        client.raw.send(b"POST /upload/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                        b"Content-Type: text/plain\r\n\r\n"
                        b"d\r\nfirst piece, \r\nc\r\nsecond piece\r\n0\r\n\r\n", mode)
        assert json.loads(client.raw.response().body) == {"length": len(body),
                                                           "body": body.decode()}


def test_django_mounted_under_a_prefix_beside_native_routes(django_app):
    app = fastcore.App()

    @app.route("/health")
    def health(request):
        return b"native"

    app.mount("/site", django_app)
    with serving(app) as server, CookieClient(server.port) as client:
        article = client.request("GET", "/site/articles/1999/?page=1")
        assert article.json() == {"year": 1999, "path": "/site/articles/1999/",
                                  "script_name": "/site", "page": "1"}
        # Django builds its redirects under the prefix.
        assert client.request("GET", "/site/form").header("location") == "/site/form/"
        assert client.request("GET", "/health").body == b"native"
