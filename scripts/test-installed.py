#!/usr/bin/env python3
"""Run the test suite against an *installed* fastcore (a wheel), never the
source tree.

    python scripts/test-installed.py [--project DIR] [--quick] [PYTEST_ARG...]

(test paths among the pytest arguments, tests/test_x.py, replace the default
selection, or add to --quick's)

Run it with the interpreter that has the wheel installed (cibuildwheel's
test-command, tests/test_wheels.py). It copies DIR/tests (default: this
script's project) and the project's pytest settings to a temporary
directory outside the source tree and runs pytest there, with
``-p no:cacheprovider``, so that ``import fastcore`` can only find the
installed package; a plugin written next to the copy fails the run at once
if fastcore was imported from DIR anyway. tests/test_wheels.py, which builds
and installs wheels itself, is left out.

--quick runs the core behaviour modules only (routing, errors, HTTP
semantics, pipelining, keep-alive, the server API): for emulated
architectures (QEMU), where the timing-sensitive modules would flake and
the whole suite would take too long.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

QUICK = ["test_routing.py", "test_errors.py", "test_http_semantics.py",
         "test_pipelining.py", "test_keepalive.py", "test_server_api.py"]
LEFT_OUT = ["test_wheels.py"]

GUARD = '''\
"""A pytest plugin written by scripts/test-installed.py: the tests must run against the
installed fastcore, not the source tree at {project!r}."""

import os

import fastcore
import fastcore._core

_project = os.path.realpath({project!r})
for _module in (fastcore, fastcore._core):
    _where = os.path.realpath(_module.__file__)
    if _where.startswith(_project + os.sep):
        raise RuntimeError(f"{{_module.__name__}} was imported from the source "
                           f"tree ({{_where}}), not from the installed wheel")


def pytest_report_header(config):
    return f"fastcore {{fastcore.__version__}} from {{os.path.dirname(fastcore.__file__)}}"
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path,
                        default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--quick", action="store_true",
                        help="core behaviour modules only")
    args, pytest_args = parser.parse_known_args(argv)
    project = args.project.resolve()
    tests = project / "tests"
    if not tests.is_dir():
        parser.error(f"{tests} is not a directory")

    with tempfile.TemporaryDirectory(prefix="fastcore-installed-") as tmp:
        root = Path(tmp)
        shutil.copytree(tests, root / "tests", ignore=shutil.ignore_patterns(
            "__pycache__", *LEFT_OUT))
        # The project's pytest settings (markers, testpaths), the README
        # (tests/test_readme.py runs its examples) and the deployment
        # examples (the tests run them as written), nothing else: the copy
        # has no fastcore/ to import.
        for name in ("pyproject.toml", "README.md"):
            if (project / name).exists():
                shutil.copy(project / name, root / name)
        if (project / "deploy").is_dir():
            shutil.copytree(project / "deploy", root / "deploy")
        # Not a conftest.py: the tests import theirs as `conftest`.
        (root / "_fastcore_installed_guard.py").write_text(GUARD.format(project=str(project)))
        # Test paths given (tests/...) replace the default selection.
        chosen = any(a == "tests" or a.startswith("tests/") for a in pytest_args)
        selected = ([f"tests/{name}" for name in QUICK if (tests / name).exists()]
                    if args.quick else [])
        if not selected and not chosen:
            selected = ["tests"]
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                   "-p", "_fastcore_installed_guard", "--rootdir", str(root),
                   *selected, *pytest_args]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTHONPATH", None)
        print(f"test-installed: {' '.join(command)} (in {root})", flush=True)
        return subprocess.call(command, cwd=root, env=env)


if __name__ == "__main__":
    sys.exit(main())
