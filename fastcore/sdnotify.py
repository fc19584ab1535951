"""The systemd notification protocol (sd_notify(3)) without libsystemd:
one datagram to the AF_UNIX socket named by ``NOTIFY_SOCKET`` (a path, or
``@name`` for the abstract namespace), e.g. ``READY=1``. With no
``NOTIFY_SOCKET`` every call does nothing."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time

__all__ = ["notify", "watchdog_interval", "Watchdog"]

# A board of one slot (see fastcore.supervisor): its header, then the
# slot's first field, the loop's last tick.
BOARD_SIZE = 16 + 24
BEAT = struct.Struct("d")


def notify(state: str, environ: dict[str, str] | None = None) -> bool:
    """Send `state` ("READY=1", "STOPPING=1", "WATCHDOG=1", ...); whether
    it was sent. Errors are ignored, as sd_notify's caller usually does."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError:
        return False
    return True


def watchdog_interval(environ: dict[str, str] | None = None) -> float | None:
    """How often to send WATCHDOG=1, in seconds: half of WATCHDOG_USEC, as
    sd_watchdog_enabled(3) advises, if it is set for this process
    (WATCHDOG_PID absent or this pid); else None."""
    env = os.environ if environ is None else environ
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 2e6


class Watchdog(threading.Thread):
    """WATCHDOG=1 every watchdog_interval() while the loop that writes
    `board` ticks (a single process; a master sends it itself): a loop
    stuck in a handler stops it, and systemd restarts the service."""

    def __init__(self, board: bytearray) -> None:
        super().__init__(name="fastcore:watchdog", daemon=True)
        self.board = board
        self.interval = watchdog_interval() or 1.0
        self.stopped = threading.Event()

    def run(self) -> None:
        # An idle loop ticks at least once a second.
        fresh = max(2 * self.interval, 1.5)
        while not self.stopped.wait(self.interval):
            if time.monotonic() - BEAT.unpack_from(self.board, 16)[0] < fresh:
                notify("WATCHDOG=1")

    def stop(self) -> None:
        self.stopped.set()
        self.join()
