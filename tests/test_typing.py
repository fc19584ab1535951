"""Type information: fastcore ships py.typed and stubs for its compiled
engine (fastcore/_core.pyi), so that ``mypy --strict`` checks a user's
application against the real API.

The checks run mypy the way a user would, on files outside the source tree.
When fastcore is installed (a wheel, in site-packages) mypy finds it there,
which only works because the package ships py.typed. When it is the source
tree (an editable install, whose import hook mypy cannot follow, or the
checkout on sys.path) the tree is given to mypy with MYPYPATH, and errors
inside fastcore's own modules are ignored, as mypy ignores them in an
installed package: only the user's file is judged.

mypy comes with the test extra; without it these tests are skipped, except
under CI (FASTCORE_CI=1), where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import fastcore

PACKAGE_DIR = Path(fastcore.__file__).resolve().parent

# Every construct a user's handler module is likely to use. Each line must
# pass `mypy --strict`, and the file also runs: a real server answers it.
GOOD = '''\
"""A user's application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.request import urlopen

import fastcore
from fastcore import App, Headers, HTTPError, Limits, Request, Response, Server

app = App(max_body=10 * 1024 * 1024, header_timeout=5.0)


@app.route("/")
def index(request: Request) -> bytes:
    return b"<h1>Hello, World!</h1>"


@app.route("/items/{item_id}", methods=["GET", "POST"])
def item(request: Request) -> Response:
    item_id: str = request.params["item_id"]
    if request.method == "POST" and not request.body:
        raise HTTPError(400, "a body is required", headers={"X-Reason": "empty"})
    body: bytes = request.body
    return Response(body, status=201, content_type="application/json",
                    headers=[("X-Item", item_id), ("Set-Cookie", "a=1")])


@app.route("/info")
def info(request: Request) -> str:
    headers: Headers = request.headers
    accept: str | None = headers.get("accept")
    cookies: list[str] = headers.get_all("cookie")
    pairs: list[tuple[str, str]] = headers.items()
    raw: list[tuple[bytes, bytes]] = headers.raw
    parts: list[str] = [request.method, request.path, request.query,
                        request.target, request.version, str(accept), *cookies]
    keep_alive: bool = request.keep_alive
    client = request.client
    if client is not None:
        host: str = client[0]
        port: int = client[1]
        parts.append(f"{host}:{port}")
    data: Any = request.json() if request.body else None
    return " ".join(parts) + f" {keep_alive} {len(pairs)} {len(raw)} {data!r}"


def missing(request: Request) -> Response:
    error = HTTPError(404)
    status: int = error.status
    response: Response = error.to_response()
    assert response.status == status
    return response


app.add_route("/missing", missing, methods=("GET", "HEAD"))

# The decorator hands the function back with its own type.
same: Callable[[Request], bytes] = index


def serve() -> str:
    limits: Limits = app.limits
    assert limits.max_body == 10 * 1024 * 1024
    with Server(app, host="127.0.0.1", port=0, keepalive_timeout=1.0) as server:
        url: str = server.url
        port: int = server.port
        with urlopen(url + "items/7", data=b"{}") as reply:
            body: bytes = reply.read()
        connections: int = server.connections
    stopped: bool = server.stop(timeout=1.0)
    background = Server(app, port=0).start()
    stopped = background.stop(5.0) and stopped
    return f"{port} {body!r} {connections >= 0} {stopped} {fastcore.__version__}"


if __name__ == "__main__":
    print(serve())
'''

# Wrong uses, each on a line marked with the error code mypy must report
# there; no other line may be reported. Most of them only fail if the
# stubs give Request and Server real types (with Any they would pass).
BAD = '''\
from fastcore import App, Request, Response, Server

app = App()


@app.route("/")
def index(request: Request) -> bytes:
    size: int = request.path  # E: assignment
    text: str = request.body  # E: assignment
    host = request.client[0]  # E: index
    request.body.encode()  # E: attr-defined
    request.nothing  # E: attr-defined
    return request.body


def run() -> None:
    Server(app, port="8081")  # E: arg-type
    Response(b"", status="200")  # E: arg-type
    app.route(42)  # E: arg-type
    Server(app).prot  # E: attr-defined
    url: bytes = Server(app).url  # E: assignment
'''

# stubtest: what the stubs leave out on purpose. The engine's internal
# classes, constants and imports never reach Python code; Request and Loop
# must match the built module exactly.
STUBTEST_ALLOWLIST = r'''
fastcore\._core\.(?!(Request|Loop)(\.|$))[^.]+(\..*)?
.*\.__(reduce|setstate)_cython__
fastcore\._core\.Request\.__init__
'''

ERROR = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): error: (?P<message>.*?)"
                   r"(?:  \[(?P<code>[a-z-]+)\])?$")


def require_mypy() -> None:
    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("FASTCORE_CI") == "1":
            pytest.fail("mypy is required under CI (it is in the test extra)")
        pytest.skip("mypy is not installed (pip install -e '.[test]')")


def installed() -> bool:
    """Whether fastcore is an installed package (in site-packages)."""
    paths = sysconfig.get_paths()
    return any(PACKAGE_DIR.parent == Path(paths[key]).resolve()
               for key in ("purelib", "platlib"))


def mypy_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment and config file for running mypy on user files."""
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    config = tmp_path / "mypy.ini"
    text = "[mypy]\n"
    if not installed():
        env["MYPYPATH"] = str(PACKAGE_DIR.parent)
        env["PYTHONPATH"] = str(PACKAGE_DIR.parent)     # for stubtest's import
        text += "\n[mypy-fastcore.*]\nignore_errors = True\n"
    config.write_text(text)
    return env, config


def run_mypy(tmp_path: Path, *files: Path) -> dict[str, list[tuple[int, str, str]]]:
    env, config = mypy_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(config),
         "--cache-dir", str(tmp_path / "cache"), "--no-color-output",
         "--no-pretty", "--show-error-codes", *(f.name for f in files)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    errors: dict[str, list[tuple[int, str, str]]] = {f.name: [] for f in files}
    for line in result.stdout.splitlines():
        match = ERROR.match(line)
        if match:
            errors.setdefault(match["file"], []).append(
                (int(match["line"]), match["code"] or "", match["message"]))
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert result.returncode == 0 or any(errors.values()), result.stdout + result.stderr
    return errors


def test_the_package_ships_its_type_information() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    assert (PACKAGE_DIR / "_core.pyi").is_file()


def test_a_users_app_passes_mypy_strict_and_wrong_uses_are_reported(tmp_path: Path) -> None:
    require_mypy()
    good = tmp_path / "user_app.py"
    good.write_text(GOOD)
    bad = tmp_path / "user_mistakes.py"
    bad.write_text(BAD)

    errors = run_mypy(tmp_path, good, bad)
    assert errors.pop(good.name) == [], "mypy --strict rejects correct use of the API"

    expected = {number: line.rsplit("# E: ", 1)[1].strip()
                for number, line in enumerate(BAD.splitlines(), 1) if "# E: " in line}
    reported: dict[int, set[str]] = {}
    for number, code, _ in errors.pop(bad.name):
        reported.setdefault(number, set()).add(code)
    for number, code in expected.items():
        assert code in reported.get(number, set()), (
            f"mypy did not report [{code}] at line {number}: "
            f"{BAD.splitlines()[number - 1].strip()!r}; it reported {reported}")
    unexpected = {n: codes for n, codes in reported.items() if n not in expected}
    assert not unexpected, f"unexpected errors in the wrong-use file: {unexpected}"
    assert not any(errors.values()), f"errors in other files: {errors}"

    # The good file is a real program, not only well typed.
    env, _ = mypy_env(tmp_path)
    result = subprocess.run([sys.executable, good.name], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(tuple("0123456789")), result.stdout
    assert "b'{}' True True" in result.stdout, result.stdout


def test_stubs_match_the_compiled_engine(tmp_path: Path) -> None:
    """mypy's stubtest imports the built fastcore._core and compares it
    with _core.pyi: a property, method or parameter of Request or Loop
    added, removed or renamed in the .pyx must be reflected in the stubs."""
    require_mypy()
    env, config = mypy_env(tmp_path)
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text(STUBTEST_ALLOWLIST)
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "fastcore._core",
         "--mypy-config-file", str(config), "--allowlist", str(allowlist)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
