"""deploy/systemd/fastcore.socket and fastcore.service, run as written:
the socket's ListenStream through systemd-socket-activate (on a free port
instead of 8081), the service's ExecStart (with this virtualenv's fastcore
and the test's directory), NOTIFY_SOCKET a datagram socket of the test's
own, WATCHDOG_USEC from WatchdogSec, ExecReload's SIGHUP and systemd's
SIGTERM at stop."""

from __future__ import annotations

import configparser
import os
import shlex
import signal
import socket
import sys

from conftest import require_tool
from helpers import wait_until
from test_binding import NotifySocket, ask
from workers_process import Master

HERE = os.path.dirname(os.path.abspath(__file__))
UNITS = os.path.join(HERE, "..", "deploy", "systemd")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str             # type: ignore[assignment,method-assign]
    parser.read(os.path.join(UNITS, name))
    return parser


def test_the_systemd_units_as_written(tmp_path):
    activate = require_tool("systemd-socket-activate")
    sock_unit, service = unit("fastcore.socket"), unit("fastcore.service")
    assert service["Service"]["Type"] == "notify"
    assert service["Unit"]["Requires"] == "fastcore.socket"
    host, _, port = sock_unit["Socket"]["ListenStream"].rpartition(":")
    assert port == "8081"
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = str(probe.getsockname()[1])
    command = shlex.split(service["Service"]["ExecStart"])
    assert command[0] == "/srv/app/.venv/bin/fastcore"
    watchdog_usec = str(int(service["Service"]["WatchdogSec"]) * 1_000_000)
    assert shlex.split(service["Service"]["ExecReload"]) == ["/bin/kill", "-HUP", "$MAINPID"]

    notify = NotifySocket(str(tmp_path / "notify"))
    # Master runs `python -m fastcore ARGS`: the same as the fastcore script.
    master = Master(tmp_path, *command[1:], env={
        "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": watchdog_usec},
        command=[activate, "-l", f"{host}:{port}", "-E", "NOTIFY_SOCKET",
                 "-E", "WATCHDOG_USEC"])
    master.start(wait=False)
    try:
        pids: set[str] = set()

        def answered() -> bool:
            try:
                pids.add(ask(f"{host}:{port}"))
            except ConnectionRefusedError:
                pass
            return bool(pids)
        wait_until(answered, what="the activated service to answer")
        notify.expect("READY=1")
        wait_until(lambda: len(master.workers()) == 2, what="two workers")
        old = master.workers()
        master.signal(signal.SIGHUP)                         # ExecReload
        wait_until(lambda: len(master.workers()) == 2 and not master.workers() & old,
                   what="the reload's new workers")
        assert int(ask(f"{host}:{port}")) in master.workers()
        master.signal(signal.SIGTERM)                        # systemctl stop
        assert master.wait_exit() == 0
        notify.expect("STOPPING=1")
    finally:
        master.stop()
        notify.sock.close()
