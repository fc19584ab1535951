"""A real Flask application (tests/flask_site.py) served by fastcore:
routes, query arguments, forms, cookies and the session, redirects, JSON,
a streamed response, send_file (with sendfile(2), seen by strace), an
error handler and a failing view. Every response goes through the strict
parser; requests are sent whole and byte by byte."""

from __future__ import annotations

import json
import logging
import os
import re

import pytest

from conftest import require_module, require_tool
from helpers import CookieClient, RawClient, request_bytes, serving
from server_process import ServerProcess, traced

MODES = ["whole", "bytewise"]
FILE_SIZE = 200_000


@pytest.fixture
def files(tmp_path):
    (tmp_path / "data.bin").write_bytes(os.urandom(FILE_SIZE))
    return tmp_path


@pytest.fixture
def site(files):
    """A running server for the Flask app; yields its port."""
    require_module("flask")
    import flask_site

    with serving(flask_site.create_app(str(files))) as server:
        yield server.port


@pytest.mark.parametrize("mode", MODES)
def test_routes_and_query_arguments(site, mode):
    with CookieClient(site) as client:
        response = client.request("GET", "/", mode=mode)
        assert (response.status, response.body) == (200, b"Hello from Flask")
        assert response.header("content-type") == "text/html; charset=utf-8"
        assert client.request("GET", "/users/42", mode=mode).body == b"user 42 (int)"
        found = client.request("GET", "/search?q=caf%C3%A9+au+lait&tag=a&tag=b%2Fc", mode=mode)
        assert found.json() == {"q": "café au lait", "tags": ["a", "b/c"], "path": "/search",
                                "full": "/search?q=caf%C3%A9+au+lait&tag=a&tag=b%2Fc"}
        # Flask's router and its 404 handler, on the same connection.
        missing = client.request("GET", "/users/abc", mode=mode)
        assert (missing.status, missing.body) == (404, b"no page at /users/abc")
        assert client.request("POST", "/", mode=mode).status == 405


@pytest.mark.parametrize("mode", MODES)
def test_form_posts(site, mode):
    with CookieClient(site) as client:
        response = client.request(
            "POST", "/form", body=b"name=Ada+Lovelace&lang=en&lang=fr&note=caf%C3%A9",
            headers=[("Content-Type", "application/x-www-form-urlencoded")], mode=mode)
        assert response.json() == {"fields": {"name": ["Ada Lovelace"], "lang": ["en", "fr"],
                                              "note": ["café"]}, "upload": None}
        boundary = "fastcore-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
                f"notes\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; "
                f"filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nline 1\nline 2\r\n"
                f"--{boundary}--\r\n").encode()
        response = client.request(
            "POST", "/form", body=body, mode=mode,
            headers=[("Content-Type", f"multipart/form-data; boundary={boundary}")])
        assert response.json() == {"fields": {"title": ["notes"]},
                                   "upload": ["a.txt", "line 1\nline 2"]}


def test_cookies_and_the_session(site):
    with CookieClient(site) as client:
        # Not logged in: sent home.
        response = client.request("GET", "/me")
        assert (response.status, response.header("location")) == (302, "/")
        response = client.request("POST", "/login", body=b"name=ada&theme=dark",
                                  headers=[("Content-Type", "application/x-www-form-urlencoded")])
        assert (response.status, response.header("location")) == (302, "/me")
        assert set(client.cookies) == {"session", "theme"}
        assert len(response.header_all("set-cookie")) == 2
        assert client.request("GET", "/me").json() == {"user": "ada", "theme": "dark"}
        # The session is signed: a forged one is no session.
        forged = CookieClient(site)
        forged.cookies = dict(client.cookies, session=client.cookies["session"][:-2] + "xx")
        assert forged.request("GET", "/me").status == 302
        forged.close()
        assert client.request("GET", "/logout").body == b"bye"
        assert "session" not in client.cookies
        assert client.request("GET", "/me").status == 302


def test_redirects(site):
    with CookieClient(site) as client:
        response = client.request("GET", "/old-place")
        assert (response.status, response.header("location")) == (301, "/users/1")
        assert client.request("GET", response.header("location")).body == b"user 1 (int)"


@pytest.mark.parametrize("mode", MODES)
def test_json(site, mode):
    document = {"name": "fastcore", "tags": ["wsgi", "flask"], "n": 3, "ok": True, "none": None}
    with CookieClient(site) as client:
        response = client.request("POST", "/api/echo", body=json.dumps(document).encode(),
                                  headers=[("Content-Type", "application/json")], mode=mode)
        assert response.status == 201
        assert response.header("content-type") == "application/json"
        assert response.json() == {"received": document, "kind": "dict"}
        broken = client.request("POST", "/api/echo", body=b"{not json",
                                headers=[("Content-Type", "application/json")], mode=mode)
        assert broken.status == 400
        assert client.request("POST", "/api/echo", body=b"[]", mode=mode,
                              headers=[("Content-Type", "text/plain")]).status == 415


def test_a_streamed_response(site):
    expected = b"".join(b"line %d of /stream\n" % i for i in range(50))
    with CookieClient(site) as client:
        response = client.request("GET", "/stream?n=50")
        assert (response.status, response.framing, response.body) == (200, "chunked", expected)
        assert response.header("content-type") == "text/plain; charset=utf-8"
        head = client.request("HEAD", "/stream?n=50")
        assert head.status == 200 and head.body == b""
        assert client.request("GET", "/").body == b"Hello from Flask"    # still open
    old = RawClient(site, streaming=True)
    old.send(request_bytes("GET", "/stream?n=50", version="1.0"))
    old.finish()
    response = old.response()
    assert (response.framing, response.body) == ("close", expected)
    old.close()


def test_send_file(site, files):
    data = (files / "data.bin").read_bytes()
    with CookieClient(site) as client:
        response = client.request("GET", "/files/data.bin")
        assert response.status == 200 and response.body == data
        assert response.header("content-length") == str(FILE_SIZE)
        etag = response.header("etag")
        assert etag
        cached = client.request("GET", "/files/data.bin", headers=[("If-None-Match", etag)])
        assert (cached.status, cached.body, cached.framing) == (304, b"", "none")
        part = client.request("GET", "/files/data.bin", headers=[("Range", "bytes=1000-1999")])
        assert (part.status, part.body) == (206, data[1000:2000])
        assert part.header("content-range") == f"bytes 1000-1999/{FILE_SIZE}"
        head = client.request("HEAD", "/files/data.bin")
        assert head.header("content-length") == str(FILE_SIZE) and head.body == b""
        assert client.request("GET", "/files/missing.bin").status == 404


def test_send_file_goes_out_with_sendfile(files):
    require_module("flask")
    require_tool("strace")
    data = (files / "data.bin").read_bytes()
    with ServerProcess(app="flask_site:create_app", app_args={"files": str(files)}) as proc:
        with traced(proc.pid, "sendfile") as calls:
            with CookieClient(proc.port) as client:
                assert client.request("GET", "/files/data.bin").body == data
    sent = [re.search(r"= (\d+)$", call) for call in calls if call.startswith("sendfile(")]
    assert sum(int(match.group(1)) for match in sent if match) == FILE_SIZE, calls


def test_an_error_handler_and_a_500(site, caplog):
    with CookieClient(site) as client:
        response = client.request("GET", "/teapot")
        assert response.status == 418
        assert response.json() == {"error": "I'm a teapot", "code": 418}
        with caplog.at_level(logging.ERROR):
            crashed = client.request("GET", "/crash")
        # Flask answers its own 500 and logs the traceback (fastcore sees a
        # response like any other); the connection goes on.
        assert crashed.status == 500 and b"Internal Server Error" in crashed.body
        assert not crashed.closes
        assert client.request("GET", "/").status == 200
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert len(logged) == 1 and logged[0].name == "flask_site"
