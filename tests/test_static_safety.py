"""No request reads outside the served directory: every trick is refused
with 404 (or 400), and the secret next to the root never leaks."""

import os

import pytest

import fastcore
from helpers import request_bytes

SECRET = b"TOP SECRET"


@pytest.fixture
def layout(tmp_path):
    (tmp_path / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "public"
    root.mkdir()
    (root / "index.html").write_text("<h1>public</h1>")
    (root / "sub").mkdir()
    (root / "sub" / "page.txt").write_text("page")
    (root / ".env").write_text("PASSWORD=hunter2")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "escape-dir")
    os.symlink(root / "sub" / "page.txt", root / "inside.txt")
    return root


ATTACKS = [
    "/../secret.txt",
    "/sub/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/sub%2f..%2f..%2fsecret.txt",
    "/..%5csecret.txt",
    "/..\\secret.txt",
    "/sub\\..\\..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/index.html%00.txt",
    "/secret.txt%00",
    "//secret.txt",
    "/" + "../" * 10 + "etc/passwd",
    "/escape.txt",
    "/escape-dir/secret.txt",
    "/.env",
    "/.git/config",
    "/sub/../.env",
    "/%2eenv",
    "/%2egit/config",
    "/..",
    "/sub/..%00/secret.txt",
]


@pytest.mark.parametrize("path", ATTACKS + ["ABSOLUTE", "ENCODED-ABSOLUTE"])
def test_attack_is_refused(serve, raw, layout, path):
    # The absolute forms name the secret by its real location on disk.
    secret = str(layout.parent / "secret.txt")
    path = {"ABSOLUTE": "/" + secret,
            "ENCODED-ABSOLUTE": "/%2f" + secret.lstrip("/")}.get(path, path)
    app = fastcore.App()
    app.static("/", layout)
    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes(path=path))
        response = client.response()
        assert response.status in (400, 404), (path, response.status)
        assert SECRET not in response.body and b"hunter2" not in response.body


@pytest.mark.parametrize("target", [
    b"GET http://x/../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /sub/page.txt/../../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
])
def test_raw_targets_are_refused(serve, raw, layout, target):
    app = fastcore.App()
    app.static("/", layout)
    with serve(app) as server:
        client = raw(server.port)
        client.send(target)
        response = client.response()
        assert response.status in (400, 404)
        assert SECRET not in response.body


def test_what_is_allowed_still_works(serve, raw, layout):
    app = fastcore.App()
    app.static("/", layout)
    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/sub/page.txt/"))
        assert client.response().status == 404          # a file is not a directory
        for path, body in [("/sub/page.txt", b"page"), ("/inside.txt", b"page"),
                           ("/sub/./page.txt", b"page"), ("/sub//page.txt", b"page"),
                           ("/%73ub/page.txt", b"page")]:
            client.send(request_bytes(path=path))
            response = client.response()
            assert (path, response.status, response.body) == (path, 200, body)


def test_dotfiles_only_when_asked(serve, raw, layout):
    app = fastcore.App()
    app.static("/", layout, dotfiles=True)
    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes(path="/.env"))
        assert client.response().body == b"PASSWORD=hunter2"
        client.send(request_bytes(path="/../secret.txt"))
        assert client.response().status == 404


def test_mount_must_be_a_directory(tmp_path):
    with pytest.raises(ValueError):
        fastcore.App().static("/", tmp_path / "missing")
