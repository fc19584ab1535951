"""The systemd notification protocol (sd_notify(3)) without libsystemd:
one datagram to the AF_UNIX socket named by ``NOTIFY_SOCKET`` (a path, or
``@name`` for the abstract namespace), e.g. ``READY=1``. With no
``NOTIFY_SOCKET`` every call does nothing."""

from __future__ import annotations

import os
import socket

__all__ = ["notify", "watchdog_interval"]


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
