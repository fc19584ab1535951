"""fastcore behind a real HAProxy (Debian's) sending the PROXY protocol v2,
configured by deploy/haproxy/haproxy.cfg as written: only the address
HAProxy binds and fastcore's address are the test's. fastcore is started
by its command line, ``fastcore run ... --proxy-protocol v2``, with the
default --proxy-allow-from (127.0.0.1,::1: HAProxy).

The client connects from 127.0.0.7, so the address the handler reports is
HAProxy's client only if it came from the header. Spoofing: a peer outside
--proxy-allow-from that sends a PROXY header is cut off without an answer.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from conftest import require_tool
from helpers import WAIT, RawClient, free_port, parse_one, request_bytes, wait_until
from test_proxy_protocol import v1, v2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
CONFIG = os.path.join(ROOT, "deploy", "haproxy", "haproxy.cfg")
CLIENT = "127.0.0.7"                 # HAProxy's client
STRANGER = "127.0.0.9"               # a peer outside --proxy-allow-from

BIND = "bind 127.0.0.1:80 "
SERVER = "server app1 127.0.0.1:8081 "


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port` (from /proc, without
    connecting to it)."""
    with open("/proc/net/tcp") as file:
        for line in file.readlines()[1:]:
            local, _remote, state = line.split()[1:4]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


@contextlib.contextmanager
def fastcore_cli(tmp_path, *options: str):
    """``fastcore run`` serving tests/apps.py's whoami_app on 127.0.0.1, a
    port of its choosing: yields the port."""
    (tmp_path / "proxied_site.py").write_text("from apps import whoami_app\napp = whoami_app()\n")
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(
        p for p in (TESTS, ROOT, os.environ.get("PYTHONPATH")) if p))
    process = subprocess.Popen([sys.executable, "-m", "fastcore", "run", "proxied_site:app",
                                "--port", "0", *options], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()         # printed once it listens
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line + process.stderr.read()
        yield int(found.group(1))
    finally:
        process.terminate()
        process.wait(WAIT)
        process.stdout.close()
        process.stderr.close()


@contextlib.contextmanager
def running_haproxy(binary: str, workdir: str, upstream: str):
    """HAProxy with deploy/haproxy/haproxy.cfg on a free loopback port (it
    cannot be told port 0: another is tried if the port was taken since)."""
    with open(CONFIG) as file:
        config = file.read()
    assert config.count(BIND) == 1 and config.count(SERVER) == 1, "the config changed shape"
    for _attempt in range(10):
        port = free_port()
        path = os.path.join(workdir, "haproxy.cfg")
        with open(path, "w") as out:
            out.write(config.replace(BIND, f"bind 127.0.0.1:{port} ")
                      .replace(SERVER, f"server app1 {upstream} "))
        process = subprocess.Popen([binary, "-db", "-f", path], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: process.poll() is not None or listening(port),
                   what="HAProxy to listen or exit")
        if process.poll() is None:
            break
        error = process.stderr.read().decode(errors="replace")
        if "cannot bind" not in error and "Address already in use" not in error:
            raise RuntimeError(f"HAProxy did not start: {error}")
    else:
        raise RuntimeError("HAProxy found no free port in 10 tries")
    try:
        yield port
    finally:
        process.terminate()
        process.wait(WAIT)
        process.stderr.close()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """(HAProxy's port, fastcore's port)."""
    binary = require_tool(shutil.which("haproxy") or "/usr/sbin/haproxy")
    with fastcore_cli(tmp_path_factory.mktemp("site"), "--proxy-protocol", "v2") as app_port, \
            running_haproxy(binary, str(tmp_path_factory.mktemp("haproxy")),
                            f"127.0.0.1:{app_port}") as port:
        yield port, app_port


def test_the_handler_sees_haproxys_client(deployed):
    port, _app_port = deployed
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT,
                                            source_address=(CLIENT, 0))
    try:
        connection.connect()
        client_port = connection.sock.getsockname()[1]
        seen = []
        for path in ("/one", "/two"):            # one connection, kept alive
            connection.request("GET", path, headers={"Host": "shop.example"})
            response = connection.getresponse()
            assert response.status == 200
            seen.append(json.loads(response.read()))
    finally:
        connection.close()
    assert [s["client"] for s in seen] == [[CLIENT, client_port]] * 2
    assert seen[0]["host"] == "shop.example"


@pytest.mark.parametrize("header", [v2(src="203.0.113.1"), v1("203.0.113.1", "127.0.0.1", 1, 80)],
                         ids=["v2", "v1"])
def test_a_header_from_a_disallowed_peer_closes_the_connection(deployed, header):
    _port, app_port = deployed
    with socket.create_connection(("127.0.0.1", app_port), timeout=WAIT,
                                  source_address=(STRANGER, 0)) as sock:
        sock.sendall(header + request_bytes())
        sock.shutdown(socket.SHUT_WR)
        try:
            assert sock.recv(65536) == b""           # closed, not a byte of answer
        except ConnectionResetError:
            pass                                     # or reset: closed all the same


def test_a_disallowed_peer_without_a_header_is_served_as_itself(deployed):
    _port, app_port = deployed
    with socket.create_connection(("127.0.0.1", app_port), timeout=WAIT,
                                  source_address=(STRANGER, 0)) as sock:
        sock.sendall(request_bytes(headers=[("Connection", "close")]))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        local_port = sock.getsockname()[1]
    response = parse_one(data, closed=True)[0]
    assert response is not None and response.json()["client"] == [STRANGER, local_port]


def test_an_allowed_peer_must_send_a_header(deployed):
    _port, app_port = deployed
    with RawClient(app_port) as client:
        client.send(request_bytes())
        client.shutdown_write()
        assert client.closed() and client.received == b""
