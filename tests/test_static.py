"""Files sent with sendfile(2): the fields that describe them, conditional
and range requests, directories, handlers' FileResponse, files that change
or shrink, and descriptors that never leak."""

import email.utils
import hashlib
import logging
import os
import subprocess
import time

import pytest

import fastcore
from conftest import require_tool
from helpers import parse_responses, request_bytes, wait_until
from server_process import fd_count

SIZES = {"empty.txt": 0, "one.bin": 1, "1k.bin": 1024, "100k.bin": 100 * 1024,
         "10m.bin": 10 * 1024 * 1024}


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    for name, size in SIZES.items():
        (root / name).write_bytes(os.urandom(size))
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "style.css").write_text("h1 { color: red; }")
    (root / "app.js").write_text("console.log(1);")
    (root / "docs").mkdir()
    (root / "docs" / "index.html").write_text("<h1>docs</h1>")
    (root / "empty-dir").mkdir()
    (root / "empty-dir" / "a.txt").write_text("a")
    return root


def static_app(root, **options):
    app = fastcore.App()
    app.static("/", root, **options)
    return app


def fetch(client, path, headers=None, method="GET"):
    client.send(request_bytes(method, path, headers=headers))
    return client.response(head=method == "HEAD")


def test_files_arrive_whole_with_their_fields(serve, raw, site):
    with serve(static_app(site)) as server:
        client = raw(server.port)
        for name, size in SIZES.items():
            response = fetch(client, f"/{name}")
            info = os.stat(site / name)
            assert response.status == 200, name
            assert response.body == (site / name).read_bytes()
            assert response.header("content-length") == str(size)
            assert response.header("accept-ranges") == "bytes"
            assert response.header("last-modified") == email.utils.formatdate(
                info.st_mtime, usegmt=True)
            etag = response.header("etag")
            assert etag.startswith('"') and not etag.startswith("W/")
        kinds = {"/style.css": "text/css; charset=utf-8",
                 "/app.js": "text/javascript; charset=utf-8",
                 "/index.html": "text/html; charset=utf-8",
                 "/1k.bin": "application/octet-stream"}
        for path, kind in kinds.items():
            assert fetch(client, path).header("content-type") == kind


def test_head_sends_fields_only(serve, raw, site):
    with serve(static_app(site)) as server:
        client = raw(server.port)
        head = fetch(client, "/100k.bin", method="HEAD")
        assert head.status == 200 and head.header("content-length") == str(100 * 1024)
        assert fetch(client, "/one.bin").body == (site / "one.bin").read_bytes()


def test_directories(serve, raw, site):
    with serve(static_app(site)) as server:
        client = raw(server.port)
        assert fetch(client, "/").body == b"<h1>home</h1>"
        assert fetch(client, "/docs/").body == b"<h1>docs</h1>"
        redirect = fetch(client, "/docs?x=1")
        assert redirect.status == 301 and redirect.header("location") == "/docs/?x=1"
        assert fetch(client, "/empty-dir/").status == 404      # no listing
    with serve(static_app(site, listing=True)) as server:
        client = raw(server.port)
        listing = fetch(client, "/empty-dir/")
        assert listing.status == 200 and b'<a href="a.txt">a.txt</a>' in listing.body


def test_mount_prefix_max_age_and_route_precedence(serve, raw, site):
    app = fastcore.App()
    app.static("/assets", site, max_age=3600)

    @app.route("/assets/1k.bin")
    def shadow(request):
        return b"a route wins"

    with serve(app) as server:
        client = raw(server.port)
        css = fetch(client, "/assets/style.css")
        assert css.status == 200 and css.header("cache-control") == "max-age=3600"
        assert fetch(client, "/assets/1k.bin").body == b"a route wins"
        assert fetch(client, "/style.css").status == 404
        assert fetch(client, "/assetsstyle.css").status == 404
        post = fetch(client, "/assets/style.css", method="POST")
        assert post.status == 405 and post.header("allow") == "GET, HEAD"


def test_options_asterisk_is_the_servers_even_with_a_root_mount(serve, raw, site):
    with serve(static_app(site)) as server:
        client = raw(server.port)
        client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        response = client.response()
        assert response.status == 204 and "GET" in response.header("allow")


def test_if_none_match_and_if_modified_since(serve, raw, site):
    with serve(static_app(site)) as server:
        client = raw(server.port)
        first = fetch(client, "/style.css")
        etag, modified = first.header("etag"), first.header("last-modified")
        cases = [
            ({"If-None-Match": etag}, 304),
            ({"If-None-Match": f'"other", {etag}'}, 304),
            ({"If-None-Match": "W/" + etag}, 304),               # weak comparison
            ({"If-None-Match": "*"}, 304),
            ({"If-None-Match": '"other"'}, 200),
            ({"If-Modified-Since": modified}, 304),
            ({"If-Modified-Since": email.utils.formatdate(time.time() + 3600, usegmt=True)}, 304),
            ({"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}, 200),
            ({"If-Modified-Since": "not a date"}, 200),
            # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
            ({"If-None-Match": '"other"', "If-Modified-Since": modified}, 200),
            ({"If-Match": '"other"'}, 412),
            ({"If-Match": etag}, 200),
        ]
        for headers, status in cases:
            response = fetch(client, "/style.css", headers=list(headers.items()))
            assert response.status == status, headers
            if status == 304:
                assert response.body == b"" and response.header("etag") == etag
                assert response.header("content-length") is None


def test_ranges(serve, raw, site):
    data = (site / "100k.bin").read_bytes()
    size = len(data)
    with serve(static_app(site)) as server:
        client = raw(server.port)
        etag = fetch(client, "/100k.bin", method="HEAD").header("etag")
        cases = [
            ("bytes=0-99", 206, data[:100], f"bytes 0-99/{size}"),
            ("bytes=1000-", 206, data[1000:], f"bytes 1000-{size - 1}/{size}"),
            ("bytes=-500", 206, data[-500:], f"bytes {size - 500}-{size - 1}/{size}"),
            ("bytes=100-99999999", 206, data[100:], f"bytes 100-{size - 1}/{size}"),
            (f"bytes={size}-", 416, None, f"bytes */{size}"),
            ("bytes=0-9,20-29", 200, data, None),        # several ranges: whole file
            ("items=0-9", 200, data, None),
            ("bytes=9-0", 200, data, None),
        ]
        for value, status, body, content_range in cases:
            response = fetch(client, "/100k.bin", headers=[("Range", value)])
            assert response.status == status, value
            assert response.header("content-range") == content_range, value
            if body is not None:
                assert response.body == body, value
        matching = fetch(client, "/100k.bin", headers=[("Range", "bytes=0-9"), ("If-Range", etag)])
        assert matching.status == 206 and matching.body == data[:10]
        stale = fetch(client, "/100k.bin", headers=[("Range", "bytes=0-9"), ("If-Range", '"old"')])
        assert stale.status == 200 and stale.body == data
        head = fetch(client, "/100k.bin", headers=[("Range", "bytes=0-9")], method="HEAD")
        assert head.status == 200


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
def test_a_range_that_does_not_parse_is_ignored(serve, raw, site, caplog, mode):
    """RFC 9110 section 14.2: an unparseable Range is ignored (200, the
    whole file). Digits are ASCII digits: "²" and other Unicode digits
    (which str.isdigit() takes and int() refuses) are not."""
    data = (site / "1k.bin").read_bytes()
    values = [b"bytes=\xb2-", b"bytes=-\xb2", b"bytes=0-\xb9", b"bytes=\xb9\xb2-\xb3",
              "bytes=\u0661-".encode(), "bytes=\uff11-\uff12".encode(), b"bytes=0x1-",
              b"bytes=+1-", b"bytes= -", b"bytes=1_0-"]
    with serve(static_app(site)) as server, caplog.at_level(logging.ERROR, logger="fastcore"):
        client = raw(server.port)
        for value in values:
            client.send(b"GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: " + value + b"\r\n\r\n", mode)
            response = client.response()
            assert (response.status, response.body) == (200, data), value
    assert [r for r in caplog.records if r.name == "fastcore"] == []


def test_range_in_the_middle_of_a_big_file(serve, raw, site):
    data = (site / "10m.bin").read_bytes()
    with serve(static_app(site)) as server:
        client = raw(server.port)
        start, end = 3_000_001, 9_000_000
        response = fetch(client, "/10m.bin", headers=[("Range", f"bytes={start}-{end}")])
        assert response.status == 206
        assert response.body == data[start:end + 1]


def test_file_response_from_a_handler(serve, raw, site):
    app = fastcore.App()

    @app.route("/report")
    def report(request):
        return fastcore.FileResponse(site / "1k.bin", download_name="rapport été.pdf",
                                     content_type="application/pdf")

    @app.route("/missing")
    def missing(request):
        return fastcore.FileResponse(site / "nope.txt")

    @app.route("/dir")
    def directory(request):
        return fastcore.FileResponse(site / "docs")

    with serve(app) as server:
        client = raw(server.port)
        response = fetch(client, "/report")
        assert response.status == 200
        assert response.body == (site / "1k.bin").read_bytes()
        assert response.header("content-type") == "application/pdf"
        assert response.header("content-disposition") == (
            "attachment; filename=\"rapport _t_.pdf\"; filename*=UTF-8''rapport%20%C3%A9t%C3%A9.pdf")
        assert fetch(client, "/missing").status == 404
        assert fetch(client, "/dir").status == 404


def test_pipelined_files_and_pages_stay_in_order(serve, raw, site):
    app = static_app(site)

    @app.route("/page")
    def page(request):
        return b"dynamic"

    with serve(app) as server:
        client = raw(server.port)
        paths = ["/1k.bin", "/page", "/100k.bin", "/empty.txt", "/page", "/10m.bin", "/one.bin"] * 3
        client.send(b"".join(request_bytes(path=p) for p in paths))
        for path in paths:
            response = client.response()
            expected = b"dynamic" if path == "/page" else (site / path[1:]).read_bytes()
            assert response.body == expected, path


def test_big_file_to_a_slow_reader_arrives_whole(serve, raw, site):
    data = (site / "10m.bin").read_bytes()
    with serve(static_app(site)) as server:
        client = raw(server.port, rcvbuf=64 * 1024, read_pace=0.0005)   # a slow reader
        client.send(request_bytes(path="/10m.bin"))
        response = client.response(timeout=60)        # 10 MiB at a slow reader's pace
        assert hashlib.sha256(response.body).digest() == hashlib.sha256(data).digest()


def test_changed_file_is_picked_up(serve, raw, site):
    path = site / "style.css"
    with serve(static_app(site)) as server:
        client = raw(server.port)
        first = fetch(client, "/style.css")
        # Rewritten in place: the very next response has the new bytes,
        # length and ETag.
        path.write_text("h1 { color: blue; } /* changed */")
        response = fetch(client, "/style.css")
        assert response.body == path.read_bytes()
        assert response.header("etag") != first.header("etag")
        # Replaced by rename: the server re-checks the path once a second;
        # poll until the change shows, with a deadline.
        replacement = site / "style.css.new"
        replacement.write_text("h1 { color: green; }")
        replacement.rename(path)
        deadline = time.monotonic() + 10
        while fetch(client, "/style.css").body != b"h1 { color: green; }":
            assert time.monotonic() < deadline
        path.unlink()
        deadline = time.monotonic() + 10
        while fetch(client, "/style.css").status != 404 and time.monotonic() < deadline:
            pass
        assert fetch(client, "/style.css").status == 404


def test_file_that_shrinks_while_sent_ends_only_that_connection(serve, raw, tmp_path):
    root = tmp_path / "shrink"
    root.mkdir()
    big = root / "big.bin"
    big.write_bytes(os.urandom(64 * 1024 * 1024))
    (root / "ok.txt").write_text("still fine")
    with serve(static_app(root)) as server:
        client = raw(server.port, rcvbuf=64 * 1024)
        client.send(request_bytes(path="/big.bin"))
        head = client.read_head()
        assert (head.status, head.reason) == (200, "OK")
        with open(big, "r+b") as handle:
            handle.truncate(1024)
        client.finish()
        assert client.ended == "eof"
        assert len(client.received) < 64 * 1024 * 1024             # short, then closed
        # A short body, never another response's bytes.
        assert parse_responses(client.received)[0] == []
        client = raw(server.port)
        assert fetch(client, "/ok.txt").body == b"still fine"


def test_no_descriptor_leaks_after_100000_requests(serve, site, tmp_path):
    wrk = require_tool("wrk")
    for i in range(40):
        (site / f"f{i}.txt").write_text(f"file {i}")
    script = tmp_path / "paths.lua"
    # Forty files through a cache of ten, with ranges mixed in, so entries
    # are evicted and reopened all the time. (No HEAD: wrk waits for a body
    # after a HEAD response.)
    script.write_text("""
local i = 0
request = function()
  i = i + 1
  local path = "/f" .. (i % 40) .. ".txt"
  if i % 5 == 0 then return wrk.format("GET", path, {["Range"] = "bytes=0-2"}) end
  return wrk.format("GET", path)
end
""")
    before_start = fd_count()
    with serve(static_app(site), file_cache_size=10) as server:
        url = f"http://127.0.0.1:{server.port}"
        subprocess.run([wrk, "-t1", "-c8", "-d1s", "-s", str(script), url],
                       check=True, capture_output=True, timeout=60)
        warmed = fd_count()
        assert warmed <= before_start + 3 + 10 + 8     # listener, epoll, eventfd, cache, clients
        total = 0
        while total < 100_000:
            out = subprocess.run([wrk, "-t1", "-c8", "-d2s", "-s", str(script), url],
                                 check=True, capture_output=True, text=True, timeout=60).stdout
            assert "Non-2xx" not in out and "Socket errors" not in out, out
            total += int(out.split(" requests in ")[0].split()[-1])
        # wrk's connections are closed by now; the cache holds ten files.
        wait_until(lambda: server.connections == 0, timeout=5, what="wrk's connections closed")
        assert fd_count() == before_start + 3 + 10
    assert fd_count() == before_start
