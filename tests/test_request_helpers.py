"""What a handler reads from a request beyond its raw parts: the query
(``args``), form bodies (``form``, ``files``), ``cookies``, ``json()``,
``scheme``/``host``/``url``; and ``Request.build`` for tests without a
server. Through fastcore's test client (the real engine), and over real
sockets where a real peer sends the bytes (curl's uploads, a raw HTTP/1.0
request)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import fastcore
from conftest import require_module, require_tool
from helpers import request_bytes


def echo_app(**limits: float) -> fastcore.App:
    app = fastcore.App(**limits)

    @app.route("/args")
    def args(request):
        return {"q": request.args.get("q"), "tags": request.args.get_all("tag"),
                "pairs": request.args.multi_items(), "missing": request.args.get("nope")}

    @app.route("/form", methods=["POST"])
    def form(request):
        return {"fields": request.form.multi_items(),
                "files": [[name, f.filename, f.content_type, f.size, f.in_memory,
                           f.read().decode("latin-1")]
                          for name, f in request.files.multi_items()]}

    @app.route("/cookies")
    def cookies(request):
        return request.cookies

    @app.route("/json", methods=["POST"])
    def json_body(request):
        return {"got": request.json()}

    @app.route("/where")
    def where(request):
        return {"scheme": request.scheme, "host": request.host, "url": request.url}

    return app


# -- the query -----------------------------------------------------------------

def test_args_is_the_decoded_query_with_repeats(client):
    reply = client(echo_app()).get("/args?q=caf%C3%A9+au+lait&tag=a&tag=b&empty=&bare")
    assert reply.json() == {
        "q": "café au lait", "tags": ["a", "b"], "missing": None,
        "pairs": [["q", "café au lait"], ["tag", "a"], ["tag", "b"], ["empty", ""],
                  ["bare", ""]]}


def test_args_of_no_query_is_empty_and_semicolons_do_not_separate(client):
    app = echo_app()
    assert client(app).get("/args").json()["pairs"] == []
    # Only "&" separates (WHATWG URL standard; the stdlib since 3.10).
    assert client(app).get("/args?q=1;tag=2").json()["q"] == "1;tag=2"


def test_each_helper_is_computed_once_per_request():
    request = fastcore.Request.build("GET", "/?a=1", headers={"Cookie": "a=1"})
    assert request.args is request.args and request.args["a"] == "1"
    assert request.cookies is request.cookies and request.cookies == {"a": "1"}
    assert request.form is request.form and len(request.form) == 0


# -- urlencoded forms ------------------------------------------------------------

def test_an_urlencoded_form(client):
    reply = client(echo_app()).post("/form", data=[("name", "Zoë"), ("tag", "x"),
                                                   ("tag", "y y"), ("empty", "")])
    assert reply.status == 200
    assert reply.json() == {"fields": [["name", "Zoë"], ["tag", "x"], ["tag", "y y"],
                                       ["empty", ""]], "files": []}


def test_a_body_of_another_type_has_no_form(client):
    reply = client(echo_app()).post("/form", data=b"a=1",
                                    headers={"Content-Type": "text/plain"})
    assert reply.json() == {"fields": [], "files": []}


def test_the_number_of_form_fields_is_bounded(client):
    app = echo_app(max_form_fields=3)
    assert client(app).post("/form", data="a=1&b=2&c=3").status == 200
    reply = client(app).post("/form", data="a=1&b=2&c=3&d=4",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 413
    assert b"at most 3 fields" in reply.body


def test_max_body_applies_to_forms(client):
    reply = client(echo_app(max_body=100)).post("/form", data={"a": "x" * 200})
    assert reply.status == 413
    assert reply.headers["connection"] == "close"


# -- multipart forms --------------------------------------------------------------

def test_multipart_fields_and_files(client):
    require_module("multipart")
    reply = client(echo_app()).post(
        "/form", data=[("title", "Ünïcode"), ("tag", "a"), ("tag", "b")],
        files={"doc": ("report.txt", b"line 1\r\nline 2\r\n", "text/plain"),
               "blob": ("x.bin", bytes(range(256)))})
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["fields"] == [["title", "Ünïcode"], ["tag", "a"], ["tag", "b"]]
    assert body["files"] == [
        ["doc", "report.txt", "text/plain", 16, True, "line 1\r\nline 2\r\n"],
        ["blob", "x.bin", "application/octet-stream", 256, True,
         bytes(range(256)).decode("latin-1")]]


def test_an_upload_over_the_spool_size_is_a_temporary_file(client, tmp_path):
    require_module("multipart")
    app = fastcore.App(upload_spool_size=1000, max_body=1 << 20)
    saved = tmp_path / "copy.bin"

    @app.route("/up", methods=["POST"])
    def up(request):
        upload = request.files["data"]
        upload.save(saved)
        return {"in_memory": upload.in_memory, "size": upload.size,
                "start": upload.file.read(4).decode()}

    content = b"abcd" * 10_000
    reply = client(app).post("/up", files={"data": ("big.bin", content)})
    assert reply.json() == {"in_memory": False, "size": 40_000, "start": "abcd"}
    assert saved.read_bytes() == content


def test_the_number_of_multipart_parts_is_bounded(client):
    require_module("multipart")
    app = echo_app(max_form_fields=2)
    fine = client(app).post("/form", data={"a": "1"}, files={"f": ("f", b"x")})
    assert fine.status == 200
    over = client(app).post("/form", data={"a": "1", "b": "2"}, files={"f": ("f", b"x")})
    assert over.status == 413


@pytest.mark.parametrize("body, content_type", [
    (b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end", "boundary=B"),
    (b"no boundary anywhere", "boundary=B"),
    (b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--B--\r\n", ""),
], ids=["truncated", "no-boundary-in-body", "no-boundary-parameter"])
def test_a_malformed_multipart_body_is_400(client, body, content_type):
    require_module("multipart")
    reply = client(echo_app()).post(
        "/form", data=body, headers={"Content-Type": f"multipart/form-data; {content_type}"})
    assert reply.status == 400
    assert reply.body.startswith(b"malformed multipart/form-data") or b"boundary" in reply.body


def test_without_the_forms_extra_multipart_is_415_naming_it(client, monkeypatch, caplog):
    # As if multipart were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "multipart", None)
    reply = client(echo_app()).post("/form", data={"a": "1"}, files={"f": ("f", b"x")})
    assert reply.status == 415
    assert b"fastcore-http[forms]" in reply.body
    assert "pip install 'fastcore-http[forms]'" in caplog.text
    # Urlencoded forms need no extra.
    assert client(echo_app()).post("/form", data={"a": "1"}).status == 200


def test_curl_uploads_a_file_over_a_real_socket(serve, tmp_path):
    curl = require_tool("curl")
    require_module("multipart")
    upload = tmp_path / "photo.jpg"
    upload.write_bytes(b"\xff\xd8" + bytes(range(256)) * 40)
    with serve(echo_app()) as server:
        result = subprocess.run(
            [curl, "-sS", "-F", "caption=a cat", "-F", f"photo=@{upload};type=image/jpeg",
             f"{server.url}form"], capture_output=True, timeout=10)
    assert result.returncode == 0, result.stderr
    import json
    body = json.loads(result.stdout)
    assert body["fields"] == [["caption", "a cat"]]
    name, filename, kind, size, _, content = body["files"][0]
    assert (name, filename, kind, size) == ("photo", "photo.jpg", "image/jpeg", 2 + 256 * 40)
    assert content.encode("latin-1") == upload.read_bytes()


# -- cookies ---------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    ("a=1; b=2", {"a": "1", "b": "2"}),
    ('sid="quoted"; x=', {"sid": "quoted", "x": ""}),
    ("a=1; a=2", {"a": "1"}),                 # the first (longest path) wins
    ("novalue; =nameless; ok=yes", {"ok": "yes"}),
    ("  spaced = out ;;", {"spaced": "out"}),
    ("v=a=b", {"v": "a=b"}),
], ids=["two", "quoted-and-empty", "repeated", "malformed-pairs", "whitespace", "equals"])
def test_cookies_as_browsers_send_them(client, header, expected):
    assert client(echo_app()).get("/cookies", headers={"Cookie": header}).json() == expected


def test_no_cookie_field_is_no_cookies(client):
    assert client(echo_app()).get("/cookies").json() == {}


# -- JSON -----------------------------------------------------------------------

def test_json_body(client):
    reply = client(echo_app()).post("/json", json={"a": [1, 2, None]})
    assert reply.json() == {"got": {"a": [1, 2, None]}}
    reply = client(echo_app()).post("/json", data=b'"x"',
                                    headers={"Content-Type": "application/vnd.api+json"})
    assert reply.json() == {"got": "x"}


@pytest.mark.parametrize("body, content_type, message", [
    (b"{", "application/json", b"invalid JSON"),
    (b"", "application/json", b"invalid JSON"),
    (b"\xff", "application/json", b"invalid JSON"),
    (b"{}", "text/plain", b"expected a JSON body"),
    (b"{}", None, b"expected a JSON body"),
], ids=["truncated", "empty", "not-utf8", "wrong-type", "no-type"])
def test_bad_json_is_400_with_a_short_message(client, body, content_type, message):
    headers = {"Content-Type": content_type} if content_type else {}
    reply = client(echo_app()).post("/json", data=body, headers=headers)
    assert reply.status == 400
    assert reply.body.startswith(message) and len(reply.body) < 200


# -- scheme, host, url --------------------------------------------------------------

def test_scheme_host_and_url(client):
    reply = client(echo_app()).get("/where?x=%20y", headers={"Host": "example.org:8080"})
    assert reply.json() == {"scheme": "http", "host": "example.org:8080",
                            "url": "http://example.org:8080/where?x=%20y"}


def test_an_absolute_form_target_names_the_host(serve, raw):
    # RFC 9112 section 3.2.2: the target's authority, not Host.
    with serve(echo_app()) as server:
        connection = raw(server.port)
        connection.send(request_bytes("GET", "http://other.example/where?a=1", host="ignored"))
        assert connection.response().json() == {
            "scheme": "http", "host": "other.example", "url": "http://other.example/where?a=1"}


def test_http_1_0_without_host_is_the_local_address(serve, raw):
    with serve(echo_app()) as server:
        connection = raw(server.port)
        connection.send(b"GET /where HTTP/1.0\r\n\r\n")
        assert connection.response().json()["url"] == f"http://127.0.0.1:{server.port}/where"


# -- Request.build ------------------------------------------------------------------

def test_request_build_makes_a_request_for_a_handler():
    request = fastcore.Request.build(
        "POST", "/items/7?x=1", headers=[("Content-Type", "application/json"),
                                         ("Cookie", "sid=abc")],
        body='{"n": 1}', client=("10.0.0.1", 5000), params={"item_id": "7"})
    assert (request.method, request.path, request.query) == ("POST", "/items/7", "x=1")
    assert request.json() == {"n": 1}
    assert request.cookies == {"sid": "abc"}
    assert request.client == ("10.0.0.1", 5000)
    assert request.params == {"item_id": "7"}
    assert request.url == "http://localhost/items/7?x=1"
    assert request.version == "1.1" and request.keep_alive
    assert fastcore.testing.make_request("GET", "/", version="1.0").version == "1.0"


def test_request_build_refuses_what_no_server_would_hand_over():
    with pytest.raises(ValueError):
        fastcore.Request.build("GE T", "/")
    with pytest.raises(ValueError):
        fastcore.Request.build("GET", "/a b")
    with pytest.raises(ValueError):
        fastcore.Request.build("GET", "/", version="2")
    with pytest.raises(TypeError, match="Request.build"):
        fastcore.Request()
