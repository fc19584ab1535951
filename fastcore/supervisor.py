"""The master of worker processes: it holds the listening sockets, forks
the workers (fastcore.worker), replaces those that die, kills those that
are stuck, restarts them on SIGHUP one generation after another, and stops
them on SIGTERM (gracefully) or SIGINT and SIGQUIT (fast).

Signals to the master:
    TERM        graceful stop: every worker drains within graceful_timeout
    INT, QUIT   fast stop: workers close their connections at once
    HUP         rolling restart: new workers serve before the old retire
    TTIN, TTOU  one worker more, one fewer (never fewer than one)

A worker tells the master it is alive through its slot of a shared memory
board: its loop writes the time of every tick there (CLOCK_MONOTONIC, the
clock of time.monotonic()), at least once a second even when idle. (Its
connection count and whether it waits for connections are there too: the
workers read each other's to spread connections, see fastcore/_accept.pyx.) A slot
that has not changed for `timeout` seconds is a stuck handler: the master
sends SIGABRT, on which faulthandler prints the worker's Python traceback,
then SIGKILL if it is still there a second later.
"""

from __future__ import annotations

import gc
import logging
import mmap
import os
import random
import select
import signal
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastcore import listeners, sdnotify
from fastcore._core import BOARD_SLOT_SIZE

if TYPE_CHECKING:
    from fastcore.app import App
    from fastcore.server import Server

__all__ = ["Supervision", "Supervisor", "WorkerBootError", "DEFAULT_TIMEOUT",
           "BOOT_TRIES", "WORKER_BOOT_ERROR"]

logger = logging.getLogger("fastcore")

DEFAULT_TIMEOUT = 30.0          # gunicorn 30 s; 0 turns the heartbeat check off
BOOT_TRIES = 3                  # workers failing to start in a row, then give up
WORKER_BOOT_ERROR = 3           # a worker's exit status when the app fails to load (gunicorn's)
KILL_AFTER = 1.0                # SIGABRT, then SIGKILL this much later
MAX_SLOTS = 1024                # workers alive at once, old and new generations
# The board: a header (the number of slots in use), then one slot per
# worker, laid out as _accept.pxd's board_slot: beat, conns, waiting, pid,
# kick.
HEADER = struct.Struct("q8x")
SLOT = struct.Struct("diiii")
TICK = 0.1                      # the master's own wake-ups, for the checks


class WorkerBootError(RuntimeError):
    """Workers kept failing before they could serve: the master gave up."""


@dataclass
class Supervision:
    """How the master runs its workers; each is a ``fastcore run`` flag.

    `load` imports the app in each worker (None: the master's app, imported
    once before forking, as with --preload); `limits` are the limit
    overrides each worker's Server gets."""
    timeout: float = DEFAULT_TIMEOUT
    graceful_timeout: float | None = None           # None: the Server's shutdown_timeout
    max_requests: int = 0
    max_requests_jitter: int = 0
    reuse_port: bool = False
    load: Callable[[], App] | None = None
    limits: dict[str, Any] | None = None


@dataclass
class Worker:
    pid: int
    slot: int
    generation: int
    started: float
    ready: bool = False
    retiring: bool = False          # asked to go: not replaced
    killed_at: float | None = None  # SIGABRT sent


def describe_status(status: int) -> str:
    """A waitpid status in words: "exit status 1", "signal 9 (SIGKILL)"."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "?"
        return f"signal {number} ({name})"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


class Supervisor:
    """Run `server`'s app in `server.workers` worker processes until a stop
    signal; see the module's docstring."""

    def __init__(self, server: Server, supervision: Supervision | None = None) -> None:
        self.server = server
        self.options = supervision or Supervision()
        self.target = server.workers or 1
        self.graceful_timeout = (server.shutdown_timeout if self.options.graceful_timeout
                                 is None else self.options.graceful_timeout)
        self.workers: dict[int, Worker] = {}
        self.free_slots = list(range(MAX_SLOTS - 1, -1, -1))
        if SLOT.size != BOARD_SLOT_SIZE:
            raise RuntimeError("fastcore.supervisor.SLOT and the engine's board_slot differ")
        # MAP_SHARED: the workers write in it.
        self.board = mmap.mmap(-1, HEADER.size + MAX_SLOTS * SLOT.size)
        self.generation = 0
        self.boot_failures = 0
        self.stopping: str | None = None        # "graceful" or "fast"
        self.stop_deadline = 0.0
        self.announced = False
        self.signals: list[int] = []
        self.sockets: list[socket.socket] = []
        self.reuse_port_binds: list[listeners.Bind] = []
        self.next_watchdog = float("inf")
        self.watchdog = 0.0
        self.failed: str | None = None
        self.ready_callback: Callable[[], None] = lambda: None
        self.shared: list[socket.socket] = []
        self.wake_fds: tuple[int, int] = (-1, -1)     # the signals' self-pipe

    # -- the sockets -----------------------------------------------------------

    def open(self) -> None:
        server = self.server
        if self.options.reuse_port:
            # Each worker binds its own SO_REUSEPORT socket for each TCP
            # address. The master's copy is bound but never listens: it
            # keeps the port (and picks it, for port 0) without taking a
            # share of the connections.
            tcp = [b for b in server.binds if b.kind == "tcp"]
            server.binds = [b for b in server.binds if b.kind != "tcp"]
            for bind in tcp:
                sock = listeners.open_listener(bind, 0, reuse_port=True, listen=False)
                host, port = sock.getsockname()[:2]
                self.reuse_port_binds.append(listeners.Bind("tcp", host=host, port=port))
                self.sockets.append(sock)
                server.host, server.port = host, port
        shared = server.open_sockets()
        self.shared = list(shared)
        server.addresses = [str(b) for b in self.reuse_port_binds] + [
            listeners.describe(sock) for sock in shared]

    # -- signals ---------------------------------------------------------------

    def on_signal(self, number: int, frame: Any) -> None:
        self.signals.append(number)

    def install_signals(self) -> tuple[int, int]:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP,
                       signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD):
            signal.signal(number, self.on_signal)
        return wake_r, wake_w

    def handle_signal(self, number: int) -> None:
        if number == signal.SIGCHLD:
            return                              # reap() runs on every wake-up
        name = signal.Signals(number).name
        if number == signal.SIGTERM:
            self.stop("graceful", name)
        elif number in (signal.SIGINT, signal.SIGQUIT):
            self.stop("fast", name)
        elif self.stopping:
            return
        elif number == signal.SIGHUP:
            logger.info("master %d: SIGHUP, rolling restart of %d workers",
                        os.getpid(), self.target)
            self.generation += 1
            for _ in range(self.target):
                self.spawn()
        elif number == signal.SIGTTIN:
            self.target += 1
            logger.info("master %d: SIGTTIN, %d workers", os.getpid(), self.target)
            self.spawn()
        elif number == signal.SIGTTOU:
            if self.target > 1:
                self.target -= 1
                logger.info("master %d: SIGTTOU, %d workers", os.getpid(), self.target)
            else:
                logger.info("master %d: SIGTTOU ignored: one worker is the fewest",
                            os.getpid())

    # -- workers ---------------------------------------------------------------

    def serving(self) -> list[Worker]:
        """The workers not asked to go, oldest first."""
        return sorted((w for w in self.workers.values() if not w.retiring),
                      key=lambda w: (w.generation, w.started))

    def spawn(self) -> None:
        from fastcore import worker as worker_module
        slot = self.free_slots.pop()
        self.clear(slot)
        in_use = HEADER.unpack_from(self.board)[0]
        HEADER.pack_into(self.board, 0, max(in_use, slot + 1))
        max_requests = self.options.max_requests
        if max_requests:
            max_requests += random.randint(0, self.options.max_requests_jitter)
        # The master's objects go to the permanent generation: a worker's
        # collections never walk them, nor touch (and copy) their pages,
        # as the gc module's documentation advises before a fork.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            worker_module.main(self, slot, max_requests)        # never returns
        self.workers[pid] = Worker(pid, slot, self.generation, time.monotonic())
        logger.info("worker %d started (generation %d)", pid, self.generation)

    def clear(self, slot: int) -> None:
        SLOT.pack_into(self.board, HEADER.size + slot * SLOT.size, 0.0, 0, 0, 0, 0)

    def beat(self, worker: Worker) -> float:
        """When the worker's loop last ticked (0.0: not yet)."""
        return SLOT.unpack_from(self.board, HEADER.size + worker.slot * SLOT.size)[0]

    def retire(self, worker: Worker) -> None:
        # SIGUSR1: drain and exit, leaving the shared backlog to the others.
        worker.retiring = True
        logger.info("worker %d retiring", worker.pid)
        self.kill(worker, signal.SIGUSR1 if not self.options.reuse_port else signal.SIGTERM)

    def kill(self, worker: Worker, number: int) -> None:
        try:
            os.kill(worker.pid, number)
        except ProcessLookupError:
            pass

    def reap(self) -> None:
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            self.clear(worker.slot)
            self.free_slots.append(worker.slot)
            how = describe_status(status)
            if self.stopping or worker.retiring:
                logger.info("worker %d exited (%s)", pid, how)
                continue
            if not worker.ready:
                self.boot_failures += 1
                logger.error("worker %d failed to start (%s)", pid, how)
                if self.boot_failures >= BOOT_TRIES:
                    self.failed = (f"workers failed to start {self.boot_failures} times in "
                                   "a row (see the error above); stopping")
                    self.stop("fast", "boot failures")
                    return
            elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                logger.info("worker %d retired (%s); replacing it", pid, how)
            else:
                logger.error("worker %d died (%s); replacing it", pid, how)
            if len(self.serving()) < self.target:
                self.spawn()

    def check(self, now: float) -> None:
        # Readiness, stuck workers, the rolling restart's retirements.
        for worker in list(self.workers.values()):
            beat = self.beat(worker)
            if not worker.ready:
                if beat > 0:
                    worker.ready = True
                    self.boot_failures = 0
                continue
            if worker.killed_at is not None:
                if now - worker.killed_at >= KILL_AFTER:
                    self.kill(worker, signal.SIGKILL)
                continue
            if self.options.timeout and not self.stopping and now - beat > self.options.timeout:
                logger.error("worker %d timed out: its loop has not come back for %.1f s; "
                             "killing it (its traceback follows)", worker.pid, now - beat)
                worker.killed_at = now
                self.kill(worker, signal.SIGABRT)
        if self.stopping:
            return
        # Beyond the target, the oldest ready workers retire: after a HUP,
        # one old worker for each new one that is ready, so that as many
        # serve throughout; after a TTOU, one at once.
        serving = self.serving()
        ready = [w for w in serving if w.ready]
        while len(ready) > self.target:
            self.retire(ready.pop(0))
        if not self.announced and serving and all(w.ready for w in serving) and (
                len(serving) >= self.target):
            self.announced = True
            self.ready_callback()

    def stop(self, how: str, why: str) -> None:
        if self.stopping == "fast" or self.stopping == how:
            return
        logger.info("master %d: %s, stopping %s", os.getpid(), why,
                    "gracefully" if how == "graceful" else "now")
        sdnotify.notify("STOPPING=1")
        self.stopping = how
        # A graceful stop: each worker keeps accepting for the shutdown
        # delay, then drains within the graceful timeout.
        timeout = (self.server.shutdown_delay + self.graceful_timeout
                   if how == "graceful" else 0.0)
        self.stop_deadline = time.monotonic() + timeout + KILL_AFTER
        for worker in self.workers.values():
            self.kill(worker, signal.SIGTERM if how == "graceful" else signal.SIGQUIT)

    # -- the master's loop -----------------------------------------------------

    def run(self, ready: Callable[[], object] | None = None) -> None:
        """Serve until a stop signal and every worker has exited. Raises
        WorkerBootError if the workers keep failing to start."""
        self.open()

        def on_ready() -> None:
            if ready is not None:
                ready()
            sdnotify.notify("READY=1")
            interval = sdnotify.watchdog_interval()
            if interval is not None:
                self.watchdog = interval
                self.next_watchdog = time.monotonic()
        self.ready_callback = on_ready
        wake_r, wake_w = self.wake_fds = self.install_signals()
        try:
            for _ in range(self.target):
                self.spawn()
            while True:
                now = time.monotonic()
                readable, _, _ = select.select([wake_r], [], [], TICK)
                if readable:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                while self.signals:
                    self.handle_signal(self.signals.pop(0))
                self.reap()
                now = time.monotonic()
                self.check(now)
                if now >= self.next_watchdog:
                    sdnotify.notify("WATCHDOG=1")
                    self.next_watchdog = now + self.watchdog
                if self.stopping:
                    if not self.workers:
                        break
                    if now >= self.stop_deadline:
                        for worker in self.workers.values():
                            self.kill(worker, signal.SIGKILL)
        finally:
            for worker in self.workers.values():
                self.kill(worker, signal.SIGKILL)
            while self.workers:
                try:
                    pid, _ = os.waitpid(-1, 0)
                except ChildProcessError:
                    break
                self.workers.pop(pid, None)
            signal.set_wakeup_fd(-1)
            for number in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP,
                           signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD):
                signal.signal(number, signal.SIG_DFL)
            os.close(wake_r)
            os.close(wake_w)
            for sock in self.sockets:
                sock.close()
            self.server.close_sockets()
            self.board.close()
        if self.failed:
            raise WorkerBootError(self.failed)
        logger.info("master %d: stopped", os.getpid())
