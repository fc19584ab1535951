"""No request reads outside the served directory: every trick is refused
with 404 (or 400), and the secret next to the root never leaks."""

import errno
import logging
import os

import pytest

import fastcore
from helpers import request_bytes

MODES = ["whole", "bytewise"]

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


def fastcore_errors(caplog):
    return [r for r in caplog.records if r.name == "fastcore" and r.levelno >= logging.ERROR]


@pytest.mark.parametrize("mode", MODES)
def test_a_path_deeper_than_the_tree_costs_one_stat(serve, raw, layout, caplog, monkeypatch, mode):
    """8 KiB of "a/": a 404 from one stat(2), which stops at the first
    missing directory, never a realpath() that lstats every prefix (4000
    of them, 20 ms of CPU) while other clients wait."""
    app = fastcore.App()
    app.static("/files", layout)
    deep = "/files/" + "a/" * 4000
    calls = []
    for name in ("stat", "lstat"):
        original = getattr(os, name)

        def counted(path, *args, _original=original, **kwargs):
            if "a/a/a/" in os.fspath(path):
                calls.append(path)
            return _original(path, *args, **kwargs)
        monkeypatch.setattr(os, name, counted)
    with serve(app) as server, caplog.at_level(logging.ERROR, logger="fastcore"):
        client = raw(server.port)
        client.send(request_bytes(path=deep), mode)
        assert client.response().status == 404
        client.send(request_bytes(path="/files/sub/page.txt"))
        assert client.response().body == b"page"
    assert len(calls) == 1
    assert fastcore_errors(caplog) == []


@pytest.mark.parametrize("mode", MODES)
def test_loops_long_names_and_files_taken_for_directories_are_404(serve, raw, layout, caplog, mode):
    """ELOOP, ENAMETOOLONG and ENOTDIR name nothing to serve: 404, none
    logged as an internal error, and the connection goes on."""
    os.symlink("loop-b", layout / "loop-a")
    os.symlink("loop-a", layout / "loop-b")
    os.symlink("self", layout / "self")
    paths = ["/loop-a", "/loop-a/x", "/self", "/self/", "/sub/self",
             "/" + "n" * 256, "/sub/" + "n" * 300 + "/x",      # a name over NAME_MAX
             "/" + "d/" * 2100,                                # a path over PATH_MAX
             "/sub/page.txt/x", "/sub/page.txt/x/y", "/index.html/"]
    app = fastcore.App()
    app.static("/", layout)
    with serve(app) as server, caplog.at_level(logging.ERROR, logger="fastcore"):
        client = raw(server.port)
        for path in paths:
            client.send(request_bytes(path=path), mode)
            assert client.response().status == 404, path
        client.send(request_bytes(path="/sub/page.txt"))
        assert client.response().body == b"page"
    assert fastcore_errors(caplog) == []


def test_a_directory_the_server_may_not_enter_is_404(serve, raw, layout, caplog, monkeypatch):
    """EACCES (and EPERM) from stat(2): 404, not logged. Root enters every
    directory whatever its mode, so the error is injected into os.stat for
    that one directory."""
    locked = layout / "locked"
    locked.mkdir()
    (locked / "f.txt").write_text("x")
    original = os.stat

    def stat(path, *args, **kwargs):
        if os.fspath(path).startswith(str(locked)):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return original(path, *args, **kwargs)
    monkeypatch.setattr(os, "stat", stat)
    app = fastcore.App()
    app.static("/", layout)
    with serve(app) as server, caplog.at_level(logging.ERROR, logger="fastcore"):
        client = raw(server.port)
        for path in ("/locked/f.txt", "/locked/", "/locked"):
            client.send(request_bytes(path=path))
            assert client.response().status == 404, path
    assert fastcore_errors(caplog) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path, location", [
    ("//sub", "/sub/"), ("///sub", "/sub/"), ("//sub?next=//evil", "/sub/?next=//evil"),
    ("/sub", "/sub/"), ("/%2e/sub", "/sub/"),
])
def test_a_redirect_to_a_directory_stays_on_this_host(serve, raw, layout, path, location, mode):
    """A Location of "//sub/" is a network-path reference (RFC 3986
    section 4.2): browsers would go to the host "sub". Leading slashes are
    collapsed before any Location is built."""
    app = fastcore.App()
    app.static("/", layout)
    with serve(app) as server:
        client = raw(server.port)
        client.send(request_bytes(path=path), mode)
        response = client.response()
        assert (response.status, response.header("location")) == (301, location)


@pytest.mark.parametrize("mode", MODES)
def test_a_file_whose_size_stat_does_not_know_is_404(serve, raw, tmp_path, mode):
    """/proc and /sys files say 0 bytes and hold more: refused (404) rather
    than answered with Content-Length: 0, or with bytes after it. An empty
    file is still an empty 200."""
    if not os.path.isfile("/proc/sys/kernel/ostype"):
        pytest.skip("no /proc/sys here")
    (tmp_path / "empty.txt").write_bytes(b"")
    app = fastcore.App()
    app.static("/kernel", "/proc/sys/kernel")

    @app.route("/status")
    def status(request):
        return fastcore.FileResponse("/proc/self/status")

    @app.route("/empty")
    def empty(request):
        return fastcore.FileResponse(tmp_path / "empty.txt")

    with serve(app) as server:
        client = raw(server.port)
        for path in ("/kernel/ostype", "/status", "/kernel/ostype"):
            client.send(request_bytes(path=path), mode)
            response = client.response()
            assert (response.status, response.body) == (404, b"404 Not Found\n"), path
        client.send(request_bytes(path="/empty"), mode)
        response = client.response()
        assert (response.status, response.body, response.header("content-length")) == (
            200, b"", "0")
