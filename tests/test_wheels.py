"""The wheel as a user gets it.

Finds the wheel for this interpreter in wheels/ (or builds it, with the
sdist, by scripts/build-wheels.sh when there is none or the sources are
newer), checks what it contains, installs it into a fresh virtualenv with
``pip install --no-index`` and no compiler available, and then, from a
directory outside the source tree: imports it, serves real requests with it
(embedded and through the ``fastcore`` command), and runs the core
behaviour tests and the typing tests against it. Finally the sdist is built
from source in another fresh virtualenv.

Needs the network for PyPI (httptools, the test tools, the sdist's build
requirements), a C compiler for the builds, and Linux.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path
from urllib.request import urlopen

import pytest
from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

from helpers import parse_complete

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / "wheels"
BUILD_SCRIPT = ROOT / "scripts" / "build-wheels.sh"
CHECK_SCRIPT = ROOT / "scripts" / "check_dist.py"
TEST_SCRIPT = ROOT / "scripts" / "test-installed.py"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or sys.implementation.name != "cpython",
    reason="the wheels are built for CPython on Linux")

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
TEST_EXTRA = PYPROJECT["project"]["optional-dependencies"]["test"]

# Whatever a build could run is made to fail: pip must only unpack.
NO_COMPILER = {"CC": "/bin/false", "CXX": "/bin/false", "LDSHARED": "/bin/false"}


def run(command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}")
    return result


def source_mtime() -> float:
    files = [ROOT / "pyproject.toml", ROOT / "setup.py"]
    files += [path for path in (ROOT / "fastcore").rglob("*")
              if path.suffix in (".py", ".pyx", ".pxd", ".pxi", ".pyi")
              or path.name == "py.typed"]
    return max(path.stat().st_mtime for path in files if path.is_file())


def find_dist() -> tuple[Path, Path] | None:
    """This interpreter's wheel and the sdist in wheels/, if both are there
    and newer than the sources."""
    tags = set(sys_tags())
    wheels = []
    for path in WHEELS.glob("fastcore_http-*.whl"):
        _, version, _, wheel_tags = parse_wheel_filename(path.name)
        if str(version) == VERSION and wheel_tags & tags:
            wheels.append(path)
    sdist = WHEELS / f"fastcore_http-{VERSION}.tar.gz"
    if len(wheels) != 1 or not sdist.exists():
        return None
    newest = source_mtime()
    if min(wheels[0].stat().st_mtime, sdist.stat().st_mtime) < newest:
        return None
    return wheels[0], sdist


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    found = find_dist()
    if found is None:
        if shutil.which(os.environ.get("CC", "gcc")) is None:
            pytest.fail("no wheel for this interpreter in wheels/ and no C compiler to build one")
        run(["bash", BUILD_SCRIPT, sys.executable], cwd=ROOT, timeout=900)
        found = find_dist()
        assert found is not None, "scripts/build-wheels.sh did not leave this interpreter's wheel"
    return found


def make_venv(where: Path) -> Path:
    run([sys.executable, "-m", "venv", where], cwd=where.parent, timeout=120)
    return where / "bin" / "python"


def offline_env() -> dict[str, str]:
    """pip sees only the directories given on its command line."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(NO_COMPILER, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def user_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def installed(dist: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A fresh virtualenv with the wheel installed without index or compiler:
    (its python, pip's output)."""
    base = tmp_path_factory.mktemp("wheel")
    python = make_venv(base / "venv")
    downloads = base / "downloads"
    # httptools, the one runtime dependency, fetched first (from pip's cache
    # or PyPI) so that the install itself can be --no-index.
    run([python, "-m", "pip", "download", "--only-binary", ":all:", "-d", downloads,
         "httptools"], cwd=base, env=user_env(), timeout=300)
    result = run([python, "-m", "pip", "install", "--no-index", "--only-binary", ":all:",
                  "--find-links", WHEELS, "--find-links", downloads, "fastcore-http"],
                 cwd=base, env=offline_env(), timeout=300)
    return python, result


def test_the_wheel_and_sdist_hold_what_they_should(dist: tuple[Path, Path]) -> None:
    wheel, sdist = dist
    result = subprocess.run([sys.executable, CHECK_SCRIPT, "--source", ROOT, wheel, sdist],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.endswith(".c")]
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/"))]
    assert "fastcore/py.typed" in names and "fastcore/_core.pyi" in names
    # A second opinion on RUNPATH where binutils is there.
    if shutil.which("readelf"):
        extracted = wheel.parent / f".check-{os.getpid()}"
        try:
            with zipfile.ZipFile(wheel) as archive:
                engine = next(n for n in names if re.fullmatch(r"fastcore/_core\..*\.so", n))
                path = Path(archive.extract(engine, extracted))
            dynamic = run(["readelf", "-d", path], cwd=ROOT).stdout
        finally:
            shutil.rmtree(extracted, ignore_errors=True)
        assert "RUNPATH" not in dynamic and "RPATH" not in dynamic, dynamic


def test_pip_installs_the_wheel_without_building(
        dist: tuple[Path, Path], installed: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    wheel, _ = dist
    python, result = installed
    output = result.stdout + result.stderr
    assert "Building wheel" not in output and "setup.py" not in output, output
    assert re.search(r"Successfully installed .*fastcore-http-" + re.escape(VERSION), output)
    # The installed engine is the wheel's, byte for byte.
    located = run([python, "-c", "import fastcore._core as c; print(c.__file__)"],
                  cwd=python.parent.parent.parent, env=user_env()).stdout.strip()
    with zipfile.ZipFile(wheel) as archive:
        engine = next(n for n in archive.namelist() if n.startswith("fastcore/_core.") and n.endswith(".so"))
        expected = hashlib.sha256(archive.read(engine)).hexdigest()
    assert hashlib.sha256(Path(located).read_bytes()).hexdigest() == expected


def test_it_imports_from_the_venv_outside_the_source_tree(
        installed: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    python, _ = installed
    venv = python.parent.parent
    script = ("import json, sys, fastcore, fastcore._core; print(json.dumps("
              "[fastcore.__file__, fastcore._core.__file__, fastcore.__version__, sys.path]))")
    package, engine, version, path = json.loads(
        run([python, "-c", script], cwd=tmp_path, env=user_env()).stdout)
    assert Path(package).resolve().is_relative_to(venv.resolve())
    assert Path(engine).resolve().is_relative_to(venv.resolve())
    assert version == VERSION
    assert not [p for p in path if p and Path(p).resolve() == ROOT]
    for name in ("py.typed", "_core.pyi"):
        assert (Path(package).parent / name).is_file()


SERVE = r'''
import json
import socket
import fastcore

app = fastcore.App()

@app.route("/")
def index(request):
    return b"<h1>Hello, World!</h1>"

@app.route("/echo/{name}", methods=["POST"])
def echo(request):
    return fastcore.Response(request.body + request.params["name"].encode(),
                             content_type="text/plain")

with fastcore.Server(app, port=0) as server:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"POST /echo/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                     b"Connection: close\r\n\r\nxyz")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    print(json.dumps(data.decode("latin-1")))
'''


def check_served(output: str) -> None:
    """What SERVE printed is two well-formed responses (strictly parsed),
    the page and the echo."""
    assert output.count("HTTP/1.1 200 OK\r\n") == 2, output
    responses = parse_complete(output.encode("latin-1"))
    assert [(r.status, r.body) for r in responses] == [
        (200, b"<h1>Hello, World!</h1>"), (200, b"xyzabc")]


def test_the_installed_wheel_serves_real_requests(
        installed: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    python, _ = installed
    output = json.loads(run([python, "-c", SERVE], cwd=tmp_path, env=user_env(),
                            timeout=60).stdout)
    check_served(output)
    assert "<h1>Hello, World!</h1>" in output and output.endswith("\r\n\r\nxyzabc"), output

    # The console script the wheel installs.
    command = python.parent / "fastcore"
    process = subprocess.Popen([command, "--port", "0"], cwd=tmp_path, env=user_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line + (process.stderr.read() if process.stderr else "")
        with urlopen(match.group(0), timeout=10) as reply:
            assert b"Hello, World!" in reply.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_core_tests_pass_against_the_installed_wheel(
        installed: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """scripts/test-installed.py copies tests/ out of the source tree and
    fails if fastcore is imported from the checkout. Under CI
    (FASTCORE_CI=1) the whole suite runs on the wheel; elsewhere the core
    behaviour modules and the typing tests, to keep a local run short.
    (cibuildwheel also runs the whole suite against each wheel it builds.)"""
    python, _ = installed
    run([python, "-m", "pip", "install", *TEST_EXTRA],
        cwd=tmp_path, env=user_env(), timeout=600)
    started = time.monotonic()
    selection = ([] if os.environ.get("FASTCORE_CI") == "1"
                 else ["--quick", "tests/test_typing.py"])
    result = run([python, TEST_SCRIPT, "--project", ROOT, *selection,
                  "-q", "-rfEs"], cwd=tmp_path, env=user_env(), timeout=1200)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary, result.stdout
    skipped = [line for line in result.stdout.splitlines()
               if line.startswith("SKIPPED") and "test_typing" in line]
    assert not skipped, "the typing tests did not run against the wheel: " + "\n".join(skipped)
    print(f"suite against the wheel: {summary} ({time.monotonic() - started:.1f} s)")


def test_the_sdist_builds_from_source_in_a_fresh_venv(
        dist: tuple[Path, Path], tmp_path: Path) -> None:
    _, sdist = dist
    python = make_venv(tmp_path / "venv")
    run([python, "-m", "pip", "install", "--no-binary", "fastcore-http", sdist],
        cwd=tmp_path, env=user_env(), timeout=900)
    output = json.loads(run([python, "-c", SERVE], cwd=tmp_path, env=user_env(),
                            timeout=60).stdout)
    check_served(output)
    located = run([python, "-c", "import fastcore; print(fastcore.__file__)"],
                  cwd=tmp_path, env=user_env()).stdout.strip()
    package = Path(located).parent
    assert package.resolve().is_relative_to((tmp_path / "venv").resolve())
    assert (package / "py.typed").is_file() and (package / "_core.pyi").is_file()
    assert not list(package.glob("*.c"))
