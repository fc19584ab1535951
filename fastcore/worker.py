"""One worker process, forked by the master (fastcore.supervisor): it
loads the app (unless the master preloaded it), serves the master's
listening sockets (or, with reuse_port, sockets of its own) until a
signal, and exits. It never returns into the master's code.

Signals to a worker (from its master):
    TERM    graceful stop, taking in what waits in the backlog
    USR1    retire: the same, but the backlog is left to the other workers
    QUIT    stop now
    ABRT    (a stuck worker) faulthandler prints its traceback, and it dies
Those of the terminal (INT, HUP, TTIN, TTOU, TSTP, WINCH) are the
master's: a worker ignores them.
"""

from __future__ import annotations

import ctypes
import faulthandler
import logging
import os
import signal
import sys
import traceback
from typing import TYPE_CHECKING

from fastcore import listeners

if TYPE_CHECKING:
    from fastcore.supervisor import Supervisor

logger = logging.getLogger("fastcore")

PR_SET_PDEATHSIG = 1            # prctl(2)
IGNORED = (signal.SIGINT, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGTSTP,
           signal.SIGWINCH)


def _die_with_master() -> None:
    # A master killed with SIGKILL cannot stop its workers: the kernel
    # sends each one SIGTERM instead (prctl(2) PR_SET_PDEATHSIG).
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _reset_signals() -> None:
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGTERM, signal.SIGQUIT, signal.SIGCHLD, signal.SIGUSR1):
        signal.signal(number, signal.SIG_DFL)
    for number in IGNORED:
        signal.signal(number, signal.SIG_IGN)


def main(master: Supervisor, slot: int, max_requests: int) -> None:
    """The child's side of the master's fork()."""
    from fastcore.server import Server
    from fastcore.supervisor import WORKER_BOOT_ERROR
    status = 1
    try:
        _reset_signals()
        for fd in master.wake_fds:
            os.close(fd)
        _die_with_master()
        if os.getppid() == 1:
            os._exit(1)                 # the master died before prctl
        os.environ.pop("NOTIFY_SOCKET", None)     # only the master talks to systemd
        faulthandler.enable(all_threads=True)
        options = master.options
        try:
            app = master.server.app if options.load is None else options.load()
        except BaseException:
            traceback.print_exc()
            logger.error("worker %d: the app failed to load", os.getpid())
            status = WORKER_BOOT_ERROR
            raise
        sockets = list(master.shared)
        for bind in master.reuse_port_binds:
            sockets.append(listeners.open_listener(bind, master.server.limits.backlog,
                                                   reuse_port=True))
        for sock in master.sockets:
            sock.close()                # the master's, bound only
        limits = options.limits if options.limits is not None else (
            master.server.limits._asdict())
        server = Server(app, sock=sockets, shutdown_timeout=master.graceful_timeout,
                        **master.server.operations, **limits)
        server._engine_options = {
            "shared": bool(master.shared) and not master.reuse_port_binds,
            "board": memoryview(master.board), "slot": slot, "max_requests": max_requests}
        # Another worker's kick (see fastcore/_accept.pyx): interrupting
        # epoll_wait is all it takes.
        signal.signal(signal.SIGURG, lambda number, frame: None)
        server._signal_actions = {signal.SIGTERM: "graceful", signal.SIGUSR1: "retire",
                                  signal.SIGQUIT: "fast"}
        server.serve_forever()
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        if status != WORKER_BOOT_ERROR:
            traceback.print_exc()
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
