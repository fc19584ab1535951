"""``fastcore run --reload``: serve from a child process and start a new one
whenever a ``.py`` file under the app's directory changes.

The parent never imports the app (so a syntax error only stops the child,
and the next save starts one again); it only polls modification times,
with the stdlib, twice a second. Directories whose name starts with a dot
(``.git``, ``.venv``), ``__pycache__`` and ``node_modules`` are skipped.
For development only: between two children the port is closed for a
moment.
"""

from __future__ import annotations

import importlib.machinery
import os
import signal
import subprocess
import sys
import threading
from typing import Any

POLL_INTERVAL = 0.5
# How long a child has to stop gracefully before it is killed.
STOP_TIMEOUT = 10.0
_SKIPPED = frozenset(("__pycache__", "node_modules", "site-packages"))


def app_directory(spec: str) -> str:
    """The directory to watch for MODULE:APP, found without importing
    anything: the top-level module's directory (a package's own
    directory), else the current directory."""
    top = spec.partition(":")[0].split(".")[0]
    cwd = os.getcwd()
    found = importlib.machinery.PathFinder.find_spec(top, [cwd, *sys.path]) if top else None
    if found is None or found.origin is None or not os.path.isfile(found.origin):
        return cwd
    return os.path.dirname(found.origin)        # a package's origin is its __init__.py


def snapshot(directory: str) -> dict[str, int]:
    """Each .py file under `directory` and its modification time (ns)."""
    files: dict[str, int] = {}
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED]
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                try:
                    files[path] = os.stat(path).st_mtime_ns
                except OSError:
                    continue                    # removed meanwhile
    return files


def _changed(before: dict[str, int], after: dict[str, int]) -> str | None:
    for path, mtime in after.items():
        if before.get(path) != mtime:
            return path
    for path in before:
        if path not in after:
            return path
    return None


def _stop(child: subprocess.Popen[Any]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def serve_with_reload(argv: list[str], spec: str) -> int:
    """Run ``python -m fastcore ARGV`` (ARGV without --reload) in a child,
    and again after each change; returns when SIGINT or SIGTERM stops it."""
    directory = app_directory(spec)
    stopped = threading.Event()

    def on_signal(number: int, frame: Any) -> None:
        stopped.set()

    previous = {number: signal.signal(number, on_signal)
                for number in (signal.SIGINT, signal.SIGTERM)}
    print(f"fastcore: watching {directory} for changes to .py files", file=sys.stderr,
          flush=True)
    files = snapshot(directory)
    try:
        while not stopped.is_set():
            child = subprocess.Popen([sys.executable, "-m", "fastcore", *argv])
            changed = None
            while not stopped.wait(POLL_INTERVAL):
                current = snapshot(directory)
                changed = _changed(files, current)
                files = current
                if changed is not None:
                    break
            _stop(child)
            if changed is not None:
                print(f"fastcore: {os.path.relpath(changed, directory)} changed; "
                      "restarting", file=sys.stderr, flush=True)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0
