"""Listening sockets: what ``--bind`` and ``Server(host=, port=, uds=, fd=,
sock=)`` name, made into sockets ready for the engine.

A bind is one of ``HOST:PORT``, ``[IPv6]:PORT``, ``unix:PATH`` or
``fd://N`` (a descriptor inherited from the parent, already bound). The
sockets systemd passes (``LISTEN_FDS``) are taken as ``sd_listen_fds(3)``
takes them: descriptors from 3, only if ``LISTEN_PID`` is this process, and
the variables are then removed so that children do not take them too.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from typing import NamedTuple

__all__ = ["Bind", "DEFAULT_UDS_MODE", "parse_bind", "open_listener", "prepare",
           "systemd_sockets", "describe", "remove_uds"]

# gunicorn and uvicorn leave a Unix socket at the umask's mode; 0660 lets
# the owner's group (the proxy's, e.g. www-data) connect and nobody else.
DEFAULT_UDS_MODE = 0o660
SD_LISTEN_FDS_START = 3          # sd-daemon.h


class Bind(NamedTuple):
    """One address to listen on: kind is "tcp" (host, port), "unix" (path)
    or "fd" (fd). (A NamedTuple: dataclasses would import inspect, 0.4 MiB,
    into every server.)"""
    kind: str
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        if self.kind == "fd":
            return f"fd://{self.fd}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def check_port(port: object) -> int:
    """A port number, 0-65535 (0 picks a free one)."""
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"a port is an int, not {port!r}")
    if not 0 <= port <= 65535:
        # getaddrinfo would take 70000 as 70000 % 65536 and bind 4464.
        raise ValueError(f"port {port} is not in 0-65535")
    return port


def parse_bind(text: str) -> Bind:
    """``HOST:PORT``, ``[IPv6]:PORT``, ``unix:PATH`` or ``fd://N``;
    ValueError naming the mistake otherwise."""
    if text.startswith("unix:"):
        path = text[5:]
        if not path:
            raise ValueError(f"{text!r}: unix: needs a path")
        return Bind("unix", path=path)
    if text.startswith("fd://"):
        number = text[5:]
        if not number.isdigit():
            raise ValueError(f"{text!r}: fd:// needs a descriptor number")
        return Bind("fd", fd=int(number))
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"{text!r}: expected [IPv6]:PORT")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon or ":" in host:
            raise ValueError(f"{text!r}: expected HOST:PORT, [IPv6]:PORT, unix:PATH "
                             "or fd://N")
    if not port_text.isdigit():
        raise ValueError(f"{text!r}: a port is a number 0-65535")
    return Bind("tcp", host=host or "0.0.0.0", port=check_port(int(port_text)))


def _named(exc: OSError, bind: Bind) -> OSError:
    # "[Errno 98] Address already in use" alone does not say which one.
    return OSError(exc.errno, f"{exc.strerror or exc}: {bind}")


def _unix_listener(path: str, mode: int) -> socket.socket:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise OSError(errno.EEXIST, f"{os.strerror(errno.EEXIST)}, and not a socket")
        # A socket file left by a process that is gone: connecting to it is
        # refused. Replace it only then; if something accepts, it is in use.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)
        except FileNotFoundError:
            pass
        else:
            raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # The mode is the file's from its creation: no moment when it is
        # open to more than asked for.
        old = os.umask(0o777 & ~mode)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, mode)
    except BaseException:
        sock.close()
        raise
    return sock


def open_listener(bind: Bind, backlog: int, *, uds_mode: int = DEFAULT_UDS_MODE,
                  reuse_port: bool = False, listen: bool = True) -> socket.socket:
    """A listening socket for `bind` (an inherited one for fd://N).
    `reuse_port` sets SO_REUSEPORT, so that each worker can bind its own
    (with `listen` false, the master's copy only holds the port)."""
    try:
        if bind.kind == "fd":
            sock = socket.socket(fileno=bind.fd)
        elif bind.kind == "unix":
            sock = _unix_listener(bind.path, uds_mode)
        else:
            family, kind, proto, _, address = socket.getaddrinfo(
                bind.host, bind.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind(address)
            except BaseException:
                sock.close()
                raise
        if listen:
            try:
                sock.listen(backlog)
            except BaseException:
                if bind.kind != "fd":
                    sock.close()
                raise
    except socket.gaierror as exc:
        raise OSError(errno.EADDRNOTAVAIL, f"{exc.strerror}: {bind}") from None
    except OSError as exc:
        raise _named(exc, bind) from None
    return sock


def prepare(sock: socket.socket) -> None:
    """Ready a listening socket for the engine: non-blocking, and on TCP
    TCP_NODELAY, which accepted sockets inherit (a response's last segment
    must not wait for the client's delayed ACK). A Unix socket has no such
    option (EOPNOTSUPP)."""
    if sock.type != socket.SOCK_STREAM:
        raise ValueError(f"a listening socket is SOCK_STREAM, not {sock.type!r}")
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)


def describe(sock: socket.socket) -> str:
    """Where a listening socket listens, as a --bind would name it."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name.decode() if isinstance(name, bytes) else name}"
    host, port = name[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def remove_uds(path: str, inode: int) -> None:
    """Remove the socket file this process made at `path`, on a clean exit:
    unless another server has replaced it since."""
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:
        pass


def systemd_sockets(environ: dict[str, str] | None = None) -> list[socket.socket]:
    """The sockets systemd passed to this process, as sd_listen_fds(3) does:
    LISTEN_FDS descriptors from 3 if LISTEN_PID is this process; LISTEN_FDS,
    LISTEN_PID and LISTEN_FDNAMES are removed from the environment either
    way, so that children do not take them. [] when there are none."""
    env = os.environ if environ is None else environ
    count, pid = env.get("LISTEN_FDS"), env.get("LISTEN_PID")
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        env.pop(name, None)
    if not count or not pid or not pid.isdigit() or int(pid) != os.getpid():
        return []
    if not count.isdigit():
        raise ValueError(f"LISTEN_FDS={count!r} is not a number")
    sockets = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)):
        os.set_inheritable(fd, False)           # sd_listen_fds sets FD_CLOEXEC
        sockets.append(socket.socket(fileno=fd))
    return sockets
