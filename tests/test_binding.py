"""Where a server listens: --bind in each form, --uds and its mode, stale
socket files, --fd, Server(uds=, fd=, sock=), and systemd socket
activation and notification (systemd-socket-activate, a datagram
NOTIFY_SOCKET owned by the test)."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

import fastcore
from conftest import require_tool
from helpers import WAIT, parse_one, request_bytes, wait_until
from workers_process import Master, served_by
from fastcore.listeners import parse_bind


def ask(address: str) -> str:
    """GET / over a new connection to `address` (HOST:PORT, [IPv6]:PORT or
    unix:PATH); the body."""
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX)
        target: object = address[5:]
    elif address.startswith("["):
        host, _, port = address[1:].partition("]:")
        sock, target = socket.socket(socket.AF_INET6), (host, int(port))
    else:
        host, _, port = address.rpartition(":")
        sock, target = socket.socket(), (host, int(port))
    with sock:
        sock.settimeout(WAIT)
        sock.connect(target)
        sock.sendall(request_bytes("GET", "/", headers=[("Connection", "close")]))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    response, _ = parse_one(data, closed=True)
    assert response is not None and response.status == 200, data
    return response.body.decode()


def addresses(master: Master) -> list[str]:
    where = master.line.split(" on ", 1)[1].split(" (")[0].split(" with ")[0]
    return [a.replace("http://", "").rstrip("/") for a in where.split(", ")]


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("workers", [[], ["-w", "2"]])
def test_every_bind_form_at_once(tmp_path, workers):
    path = str(tmp_path / "s.sock")
    binds = ["--bind", "127.0.0.1:0", "--bind", f"unix:{path}"]
    if has_ipv6():
        binds += ["--bind", "[::1]:0"]
    with Master(tmp_path, "run", "app:app", *binds, *workers) as master:
        found = addresses(master)
        assert len(found) == len(binds) // 2, found
        assert f"unix:{path}" in found
        for address in found:
            assert ask(address).isdigit()
    assert not os.path.exists(path)


def test_uds_alias_mode_and_removal_on_a_clean_exit(tmp_path):
    path = str(tmp_path / "app.sock")
    with Master(tmp_path, "run", "app:app", "--uds", path) as master:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660       # the default
        assert ask(f"unix:{path}").isdigit()
        master.signal(signal.SIGTERM)
        assert master.wait_exit() == 0
    assert not os.path.exists(path)
    with Master(tmp_path, "run", "app:app", "--uds", path, "--uds-mode", "600"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_stale_socket_file_is_replaced(tmp_path):
    path = str(tmp_path / "stale.sock")
    with socket.socket(socket.AF_UNIX) as old:
        old.bind(path)                 # left behind: nothing listens
    with Master(tmp_path, "run", "app:app", "--uds", path):
        assert ask(f"unix:{path}").isdigit()


def test_a_socket_file_in_use_is_not_replaced(tmp_path):
    path = str(tmp_path / "busy.sock")
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(path)
        live.listen()
        master = Master(tmp_path, "run", "app:app", "--uds", path).start(wait=False)
        try:
            assert master.wait_exit() == 1
        finally:
            master.stop()
        assert f"Address already in use: unix:{path}" in master.log()
        assert os.path.exists(path)
    regular = tmp_path / "file"
    regular.write_text("data")
    master = Master(tmp_path, "run", "app:app", "--uds", str(regular)).start(wait=False)
    try:
        assert master.wait_exit() == 1
    finally:
        master.stop()
    assert regular.read_text() == "data"


@pytest.mark.parametrize("form", ["--fd", "--bind"])
def test_an_inherited_descriptor(tmp_path, form):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        fd = sock.fileno()
        value = str(fd) if form == "--fd" else f"fd://{fd}"
        with Master(tmp_path, "run", "app:app", form, value, pass_fds=(fd,)) as master:
            assert master.port == port
            assert served_by(port) != os.getpid()


def test_server_keywords(tmp_path):
    app = fastcore.App()
    app.route("/")(lambda request: "unix")
    path = str(tmp_path / "kw.sock")
    with fastcore.Server(app, uds=path) as server:
        assert server.url == f"unix:{path}"
        assert ask(f"unix:{path}") == "unix"
    assert not os.path.exists(path)
    # An AF_UNIX socket of the caller's: no TCP_NODELAY on it (EOPNOTSUPP).
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "own.sock"))
    with fastcore.Server(app, sock=sock):
        assert ask(f"unix:{tmp_path / 'own.sock'}") == "unix"
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    with fastcore.Server(app, fd=tcp.detach()) as server:
        assert ask(f"127.0.0.1:{server.port}") == "unix"


@pytest.mark.parametrize("text", ["127.0.0.1:70000", "h:-1", "h", "[::1]8080", "unix:",
                                  "fd://x", "::1:80"])
def test_bad_binds_are_value_errors(text):
    with pytest.raises(ValueError):
        parse_bind(text)
    with pytest.raises(ValueError):
        fastcore.Server(fastcore.App(), bind=[text])


def test_ports_outside_the_range_and_address_errors():
    with pytest.raises(ValueError, match="70000"):
        fastcore.Server(fastcore.App(), port=70000)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
            fastcore.Server(fastcore.App(), port=port).listen()


def test_systemd_sockets_are_taken_as_sd_listen_fds_does(tmp_path):
    # A LISTEN_PID of another process: not ours, but the variables go.
    from fastcore.listeners import systemd_sockets
    env = {"LISTEN_FDS": "1", "LISTEN_PID": str(os.getppid()), "LISTEN_FDNAMES": "x"}
    assert systemd_sockets(env) == []
    assert env == {}


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(WAIT)
        self.received: list[str] = []

    def expect(self, message: str) -> None:
        deadline = time.monotonic() + WAIT
        while message not in self.received:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            self.received.append(self.sock.recv(4096).decode())


@pytest.mark.parametrize("workers", [[], ["-w", "2"]])
def test_systemd_socket_activation_and_notification(tmp_path, workers):
    activate = require_tool("systemd-socket-activate")
    notify = NotifySocket(str(tmp_path / "notify"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"}
    master = Master(tmp_path, "run", "app:app", *workers,
                    command=[activate, "-l", f"127.0.0.1:{port}", "-E", "NOTIFY_SOCKET",
                             "-E", "WATCHDOG_USEC"], env=env)
    master.start(wait=False)
    try:
        # systemd-socket-activate starts fastcore at the first connection,
        # which fastcore then answers on the inherited socket.
        wait_until(lambda: os.path.exists(f"/proc/{master.pid}"), what="the activator")
        body = ""

        def answered() -> bool:
            nonlocal body
            try:
                body = ask(f"127.0.0.1:{port}")
            except ConnectionRefusedError:
                return False
            return True
        wait_until(answered, what="an answer on the activated socket")
        assert body.isdigit()
        notify.expect("READY=1")
        notify.expect("WATCHDOG=1")
        master.signal(signal.SIGTERM)
        assert master.wait_exit() == 0
        notify.expect("STOPPING=1")
        assert notify.received.index("READY=1") < notify.received.index("STOPPING=1")
    finally:
        master.stop()
        notify.sock.close()


def test_the_watchdog_stops_while_the_loop_is_stuck(tmp_path):
    # One process, no master: WATCHDOG=1 only while the loop ticks, so that
    # systemd restarts a server stuck in a handler.
    notify = NotifySocket(str(tmp_path / "notify"))
    env = {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"}
    with Master(tmp_path, "run", "app:app", "--port", "0", env=env) as master:
        notify.expect("READY=1")
        notify.expect("WATCHDOG=1")
        stuck = socket.create_connection(("127.0.0.1", master.port))
        stuck.sendall(request_bytes("GET", "/stuck"))
        # The last tick is at most 1.5 s old when the thread stops pinging
        # (an idle loop ticks once a second or more); then nothing comes.
        notify.received.clear()
        deadline = time.monotonic() + 1.6
        while (left := deadline - time.monotonic()) > 0:
            notify.sock.settimeout(left)
            try:
                notify.received.append(notify.sock.recv(4096).decode())
            except TimeoutError:
                break
        notify.sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            print("after the loop stuck:", notify.sock.recv(4096))
        stuck.close()
    notify.sock.close()
