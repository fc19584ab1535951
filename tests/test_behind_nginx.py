"""fastcore behind a real nginx (Debian's), configured by deploy/nginx/
fastcore.conf as written: only the address nginx listens on and the
upstream address (fastcore's) are the test's. fastcore serves with
``proxy_headers=True`` and its default trust (127.0.0.1,::1: nginx).

The client connects from 127.0.0.5, an address no one trusts, so that the
client address fastcore reports can only have come from nginx's
X-Forwarded-For. Checked: requests over kept-alive upstream connections
(one connection to fastcore for many requests), a large upload, a streamed
response, the client address and Host, and a client's forged
X-Forwarded-For, which nginx appends to and fastcore then skips.

The upstream is one parameter, ``UPSTREAMS``: TCP on loopback, and a Unix
socket, the same tests with another address.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil

import pytest

from apps import whoami_app
from conftest import require_tool
from helpers import WAIT, serving
from test_differential_nginx import nginx_conf, running_nginx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE = os.path.join(ROOT, "deploy", "nginx", "fastcore.conf")
CLIENT = "127.0.0.5"                 # a loopback address outside the trusted list
MAX_BODY = 10 * 1024 * 1024          # as the site's client_max_body_size

# The lines of the site that the test changes, and what they become.
LISTEN = "listen 80;"
SERVER = "server 127.0.0.1:8081;"

def site_config(workdir: str, upstream: str, port: int) -> str:
    """deploy/nginx/fastcore.conf with the test's two addresses, written
    beside an nginx.conf that includes it; the nginx.conf's text."""
    with open(SITE) as file:
        site = file.read()
    assert site.count(LISTEN) == 1 and site.count(SERVER) == 1, "the site changed shape"
    site = site.replace(LISTEN, f"listen 127.0.0.1:{port};")
    site = site.replace(SERVER, f"server {upstream};")
    with open(os.path.join(workdir, "site.conf"), "w") as out:
        out.write(site)
    return nginx_conf(workdir, f"    include {workdir}/site.conf;\n")


def tcp_upstream(tmp_path):
    # What serving() is given besides the app (nothing: 127.0.0.1, port
    # 0), and the upstream address of the server it starts.
    return {}, lambda server: f"127.0.0.1:{server.port}"


def unix_upstream(tmp_path):
    # fastcore on a Unix socket (nginx's "server unix:PATH"): a peer
    # without an address, trusted like loopback.
    path = str(tmp_path / "fastcore.sock")
    return {"uds": path}, lambda server: f"unix:{path}"


UPSTREAMS = {"tcp": tcp_upstream, "unix": unix_upstream}


@pytest.fixture(scope="module", params=sorted(UPSTREAMS))
def deployed(request, tmp_path_factory):
    """(nginx's port, the fastcore Server, the upstream kind)."""
    binary = require_tool(shutil.which("nginx") or "/usr/sbin/nginx")
    workdir = str(tmp_path_factory.mktemp("nginx"))
    listen, address = UPSTREAMS[request.param](tmp_path_factory.mktemp("sock"))
    app = whoami_app(max_body=MAX_BODY)
    with serving(app, proxy_headers=True, **listen) as server, \
            running_nginx(binary, workdir, lambda port: site_config(
                workdir, address(server), port)) as port:
        yield port, server, request.param


def get(port: int, path: str = "/", method: str = "GET", body: bytes | None = None,
        headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT,
                                            source_address=(CLIENT, 0))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def upstream_connections(port: int) -> set[int]:
    """The peer ports of every TCP connection to `port` the kernel knows,
    open or in TIME_WAIT (a closed one stays there for a minute)."""
    peers = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as file:
            for line in file.readlines()[1:]:
                local, remote, state = line.split()[1:4]
                if int(local.rsplit(":", 1)[1], 16) == port and state != "0A":  # not LISTEN
                    peers.add(int(remote.rsplit(":", 1)[1], 16))
    return peers


def test_the_client_address_comes_through_x_forwarded_for(deployed):
    port, _server, _kind = deployed
    status, body = get(port, "/a?b=c", headers={"Host": "shop.example"})
    got = json.loads(body)
    assert status == 200
    assert got["client"] == [CLIENT, 0]
    assert (got["scheme"], got["host"], got["url"]) == (
        "http", "shop.example", "http://shop.example/a?b=c")


def test_a_forged_x_forwarded_for_is_skipped(deployed):
    # nginx appends the client's address; the forged entry is left of it.
    port, _server, _kind = deployed
    _status, body = get(port, headers={"X-Forwarded-For": "203.0.113.66",
                                       "X-Forwarded-Proto": "https"})
    got = json.loads(body)
    assert got["client"] == [CLIENT, 0] and got["scheme"] == "http"


def test_requests_share_one_kept_alive_upstream_connection(deployed):
    port, server, kind = deployed
    before = upstream_connections(server.port) if kind == "tcp" else set()
    for i in range(20):
        assert get(port, f"/n{i}")[0] == 200
    assert server.connections == 1                 # nginx keeps it open, idle
    if kind == "tcp":
        # One connection served them all: a new one, or one kept from before.
        assert len(upstream_connections(server.port) - before) <= 1


def test_a_large_upload(deployed):
    port, _server, _kind = deployed
    body = os.urandom(1024) * (8 * 1024)           # 8 MiB
    status, answer = get(port, "/upload", "POST", body,
                         {"Content-Type": "application/octet-stream"})
    assert status == 200 and json.loads(answer)["length"] == len(body)
    status, _answer = get(port, "/upload", "POST", b"x" * (MAX_BODY + 1))
    assert status == 413                            # nginx's own limit


def test_a_streamed_response(deployed):
    port, _server, _kind = deployed
    status, body = get(port, "/stream")
    assert status == 200
    assert body == b"".join(f"chunk {i}\n".encode() for i in range(8))


def test_straight_to_fastcore_a_forged_header_changes_nothing():
    # The same server, reached without nginx from an untrusted address.
    with serving(whoami_app(), proxy_headers=True) as server:
        _status, body = get(server.port, headers={"X-Forwarded-For": "203.0.113.66"})
    assert json.loads(body)["client"][0] == CLIENT
