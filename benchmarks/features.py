"""What the fastcore on sys.path can do, printed as one JSON line:

    python -m benchmarks.features

peers.py runs it in a subprocess with each fastcore build's path (this
tree, or a baseline built at another git ref), so that the build itself is
asked, never the benchmark process's own import. A scenario whose feature
is missing is reported `unsupported` with the reason instead of failing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json


def _run_help() -> str:
    """`fastcore run --help`, or "" when there is no such command."""
    out = io.StringIO()
    try:
        from fastcore import cli
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            cli.main(["run", "--help"])
    except SystemExit:
        pass
    except Exception:                   # an older CLI without `run`
        return ""
    return out.getvalue()


def probe() -> dict:
    import fastcore
    run_help = _run_help()
    return {
        "file": fastcore.__file__,
        "version": getattr(fastcore, "__version__", "?"),
        "static": hasattr(fastcore.App, "static"),
        "stream": hasattr(fastcore, "Stream"),
        "wsgi": importlib.util.find_spec("fastcore.wsgi") is not None,
        "run": bool(run_help),
        "interface": "--interface" in run_help,
        "workers": "--workers" in run_help,
        "threads": "--threads" in run_help,
    }


if __name__ == "__main__":
    print(json.dumps(probe()))
