"""The portable wheels as users get them.

For each interpreter under test, finds its wheels in wheels/ (or builds
them, with the sdist, by scripts/build-wheels.sh when one is missing or the
sources are newer): one manylinux2014 wheel for each architecture in ARCHS.
Each wheel is checked for what it holds, for the tag `auditwheel show`
finds (manylinux_2_17, glibc 2.17, for its architecture) and for the glibc
symbol versions its engine needs (`objdump -T`: GLIBC_2.17 at most). The
wheel for this machine's architecture is then installed into a fresh
virtualenv of its own interpreter with ``pip install --no-index`` and no
compiler available, and from a directory outside the source tree it is
imported, serves real requests (embedded and through the ``fastcore``
command) and runs the tests. The wheels of other architectures (aarch64
on x86_64) are built and checked, not run. Finally the sdist is built
from source in another fresh virtualenv.

Which interpreters: the one running the tests; with
``FASTCORE_WHEEL_PYTHONS=all`` every local CPython that build-wheels.sh
finds (``make test-wheels``), or the interpreters that variable lists.
Which tests run against each installed wheel: the whole suite under CI
(FASTCORE_CI=1) or with ``FASTCORE_WHEEL_SUITE=full``, else the core
behaviour modules and the typing tests.

Needs the network for PyPI (zig and the build tools, httptools, the test
tools, the sdist's build requirements), a C compiler for the sdist, binutils
(objdump, readelf), and Linux.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

import pytest
from conftest import require_tool

from helpers import parse_complete

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / "wheels"
WHEEL_TOOLS = ROOT / "build" / "wheel-tools"
BUILD_SCRIPT = ROOT / "scripts" / "build-wheels.sh"
CHECK_SCRIPT = ROOT / "scripts" / "check_dist.py"
TEST_SCRIPT = ROOT / "scripts" / "test-installed.py"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or sys.implementation.name != "cpython",
    reason="the wheels are built for CPython on Linux")

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
TEST_EXTRA = PYPROJECT["project"]["optional-dependencies"]["test"]

# The wheels built and checked for each interpreter; only the one for this
# machine's architecture can be installed and run here.
ARCHS = ("x86_64", "aarch64")
HOST_ARCH = platform.machine()
# manylinux2014 (PEP 599) is glibc 2.17, the oldest glibc with aarch64.
MAX_GLIBC = (2, 17)

# Whatever a build could run is made to fail: pip must only unpack.
NO_COMPILER = {"CC": "/bin/false", "CXX": "/bin/false", "LDSHARED": "/bin/false"}


@dataclass(frozen=True)
class Interpreter:
    tag: str        # the wheel's Python tag: cp312, cp313t
    path: Path


def interpreters_under_test() -> list[Interpreter]:
    chosen = os.environ.get("FASTCORE_WHEEL_PYTHONS", "").split()
    if not chosen:
        free = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
        tag = f"cp{sys.version_info[0]}{sys.version_info[1]}{free}"
        return [Interpreter(tag, Path(sys.executable))]
    # The script that builds the wheels says which interpreters it finds.
    listed = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--list-pythons", *([] if chosen == ["all"] else chosen)],
        capture_output=True, text=True, check=True).stdout.split()
    return [Interpreter(tag, Path(path)) for tag, path in zip(listed[::2], listed[1::2])]


INTERPRETERS = interpreters_under_test()
WHEEL_CASES = [pytest.param(i.tag, arch, id=f"{i.tag}-{arch}")
               for i in INTERPRETERS for arch in ARCHS]


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheels: dict[tuple[str, str], Path]     # (python tag, arch) -> wheel


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


def wheel_for(tag: str, arch: str) -> Path | None:
    found = list(WHEELS.glob(f"fastcore_http-{VERSION}-{tag}-{tag}-manylinux2014_{arch}.*.whl"))
    return found[0] if len(found) == 1 else None


def find_dist(interpreters: list[Interpreter]) -> Dist | None:
    """The sdist and these interpreters' wheels in wheels/, if all are
    there and newer than the sources."""
    sdist = WHEELS / f"fastcore_http-{VERSION}.tar.gz"
    wheels: dict[tuple[str, str], Path] = {}
    for interpreter in interpreters:
        for arch in ARCHS:
            wheel = wheel_for(interpreter.tag, arch)
            if wheel is None:
                return None
            wheels[interpreter.tag, arch] = wheel
    if not sdist.exists():
        return None
    if min(path.stat().st_mtime for path in [sdist, *wheels.values()]) < source_mtime():
        return None
    return Dist(sdist, wheels)


@pytest.fixture(scope="module")
def dist() -> Dist:
    found = find_dist(INTERPRETERS)
    if found is None:
        stale = [i for i in INTERPRETERS if find_dist([i]) is None] or INTERPRETERS
        env = dict(os.environ, WHEEL_ARCHS=" ".join(ARCHS))
        run(["bash", BUILD_SCRIPT, *[i.path for i in stale]], cwd=ROOT, env=env, timeout=1800)
        found = find_dist(INTERPRETERS)
        assert found is not None, "scripts/build-wheels.sh did not leave every wheel asked for"
    return found


def auditwheel(tag: str) -> Path:
    """The auditwheel that built the wheels (scripts/build-wheels.sh keeps
    it), else one on PATH."""
    for path in (WHEEL_TOOLS / tag / "bin" / "auditwheel", *WHEEL_TOOLS.glob("*/bin/auditwheel")):
        if path.exists():
            return path
    return Path(require_tool("auditwheel"))


def engine_of(wheel: Path, into: Path) -> Path:
    """fastcore/_core.*.so, extracted from the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if re.fullmatch(r"fastcore/_core\..*\.so", n))
        return Path(archive.extract(name, into))


def make_venv(python: Path, where: Path) -> Path:
    run([python, "-m", "venv", where], cwd=where.parent, timeout=120)
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


def test_the_sdist_carries_every_source(dist: Dist) -> None:
    result = subprocess.run([sys.executable, CHECK_SCRIPT, "--source", ROOT, dist.sdist],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("tag, arch", WHEEL_CASES)
def test_each_wheel_holds_what_it_should(dist: Dist, tag: str, arch: str,
                                         tmp_path: Path) -> None:
    wheel = dist.wheels[tag, arch]
    result = subprocess.run([sys.executable, CHECK_SCRIPT, "--max-glibc", "2.17", wheel],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        tags = [line.split(": ", 1)[1] for line in archive.read(
            f"fastcore_http-{VERSION}.dist-info/WHEEL").decode().splitlines()
            if line.startswith("Tag: ")]
    assert sorted(tags) == [f"{tag}-{tag}-manylinux2014_{arch}", f"{tag}-{tag}-manylinux_2_17_{arch}"]
    assert not [n for n in names if n.endswith(".c")]
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/"))]
    assert "fastcore/py.typed" in names and "fastcore/_core.pyi" in names
    engine = engine_of(wheel, tmp_path)
    assert engine.name == f"_core.cpython-{tag[2:]}-{arch}-linux-gnu.so"
    # A second opinion on RUNPATH and on the architecture (readelf reads any ELF).
    header = run([require_tool("readelf"), "-h", "-d", engine], cwd=tmp_path).stdout
    assert "RUNPATH" not in header and "RPATH" not in header, header
    machine = {"x86_64": "Advanced Micro Devices X86-64", "aarch64": "AArch64"}[arch]
    assert re.search(r"Machine:\s+" + re.escape(machine), header), header


@pytest.mark.parametrize("tag, arch", WHEEL_CASES)
def test_auditwheel_finds_each_wheel_manylinux2014(dist: Dist, tag: str, arch: str) -> None:
    """manylinux2014 is manylinux_2_17 (PEP 600's name for it): auditwheel
    reports the latter."""
    shown = json.loads(run([auditwheel(tag), "show", "--json", dist.wheels[tag, arch]],
                           cwd=ROOT).stdout)
    assert shown["overall_tag"] == f"manylinux_2_17_{arch}", shown
    assert shown["external_libs"] == {}, shown


# An undefined symbol in `objdump -T`: address, flags (w for weak), *UND*,
# size, version ("(GLIBC_2.17)", "Base" or nothing) and name.
IMPORTED = re.compile(r"^[0-9a-f]+ (?P<flags>.{7}) \*UND\*\s+[0-9a-f]+\s+"
                      r"(?:\((?P<version>[^)]+)\)|Base)?\s*(?P<name>\S+)$", re.M)


@pytest.mark.parametrize("tag, arch", WHEEL_CASES)
def test_the_engine_needs_glibc_2_17_at_most(dist: Dist, tag: str, arch: str,
                                            tmp_path: Path) -> None:
    """binutils' view, beside check_dist.py's own ELF reader: every symbol
    the engine takes is glibc's at 2.17 or older, or Python's C API. An
    unversioned symbol of another name would be a call zig's glibc 2.17
    stubs lack, which links without complaint."""
    engine = engine_of(dist.wheels[tag, arch], tmp_path)
    symbols = run([require_tool("objdump"), "-T", engine], cwd=tmp_path).stdout
    undefined = list(IMPORTED.finditer(symbols))
    assert len(undefined) == symbols.count("*UND*"), "unparsed lines:\n" + symbols[:3000]
    needs: dict[tuple[int, int], str] = {}
    # Weak symbols are optional: the loader leaves them null if absent.
    for m in (m for m in undefined if "w" not in m["flags"]):
        if m["version"] is None:
            assert m["name"].startswith(("Py", "_Py")), f"{m['name']} has no version"
        elif m["version"].startswith("GLIBC_"):
            major, minor = m["version"][len("GLIBC_"):].split(".")[:2]
            needs[int(major), int(minor)] = m["name"]
    assert needs, "objdump -T shows no GLIBC_ symbol versions:\n" + symbols[:2000]
    newest = max(needs)
    assert newest <= MAX_GLIBC, (
        f"{engine.name} needs GLIBC_{newest[0]}.{newest[1]} (for {needs[newest]})")


@dataclass(frozen=True)
class Installed:
    python: Path                    # the virtualenv's interpreter
    wheel: Path
    pip: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module", params=INTERPRETERS, ids=lambda i: i.tag)
def installed(request: pytest.FixtureRequest, dist: Dist,
              tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh virtualenv of the wheel's own interpreter with the wheel
    installed without index or compiler."""
    interpreter: Interpreter = request.param
    if HOST_ARCH not in ARCHS:
        pytest.skip(f"no wheel is built for this machine's architecture, {HOST_ARCH}")
    base = tmp_path_factory.mktemp(f"wheel-{interpreter.tag}")
    python = make_venv(interpreter.path, base / "venv")
    downloads = base / "downloads"
    # httptools, the one runtime dependency, fetched first (from pip's cache
    # or PyPI) so that the install itself can be --no-index.
    run([python, "-m", "pip", "download", "--only-binary", ":all:", "-d", downloads,
         "httptools"], cwd=base, env=user_env(), timeout=300)
    result = run([python, "-m", "pip", "install", "--no-index", "--only-binary", ":all:",
                  "--find-links", WHEELS, "--find-links", downloads, "fastcore-http"],
                 cwd=base, env=offline_env(), timeout=300)
    return Installed(python, dist.wheels[interpreter.tag, HOST_ARCH], result)


def test_pip_installs_the_wheel_without_building(installed: Installed) -> None:
    output = installed.pip.stdout + installed.pip.stderr
    assert "Building wheel" not in output and "setup.py" not in output, output
    assert re.search(r"Successfully installed .*fastcore-http-" + re.escape(VERSION), output)
    # pip chose the manylinux2014 wheel, and the installed engine is its own, byte for byte.
    located = run([installed.python, "-c", "import fastcore._core as c; print(c.__file__)"],
                  cwd=installed.python.parent.parent.parent, env=user_env()).stdout.strip()
    with zipfile.ZipFile(installed.wheel) as archive:
        engine = next(n for n in archive.namelist() if n.startswith("fastcore/_core.") and n.endswith(".so"))
        expected = hashlib.sha256(archive.read(engine)).hexdigest()
    assert hashlib.sha256(Path(located).read_bytes()).hexdigest() == expected


def test_it_imports_from_the_venv_outside_the_source_tree(installed: Installed,
                                                          tmp_path: Path) -> None:
    python = installed.python
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


def test_the_installed_wheel_serves_real_requests(installed: Installed,
                                                  tmp_path: Path) -> None:
    python = installed.python
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


def test_the_tests_pass_against_the_installed_wheel(installed: Installed,
                                                    tmp_path: Path) -> None:
    """scripts/test-installed.py copies tests/ out of the source tree and
    fails if fastcore is imported from the checkout. Under CI
    (FASTCORE_CI=1) or with FASTCORE_WHEEL_SUITE=full the whole suite runs
    on the wheel; elsewhere the core behaviour modules and the typing
    tests, to keep a local run short."""
    python = installed.python
    run([python, "-m", "pip", "install", *TEST_EXTRA],
        cwd=tmp_path, env=user_env(), timeout=600)
    started = time.monotonic()
    full = (os.environ.get("FASTCORE_CI") == "1"
            or os.environ.get("FASTCORE_WHEEL_SUITE") == "full")
    selection = [] if full else ["--quick", "tests/test_typing.py"]
    result = run([python, TEST_SCRIPT, "--project", ROOT, *selection,
                  "-q", "-rfEs"], cwd=tmp_path, env=user_env(), timeout=1800)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary, result.stdout
    skipped = [line for line in result.stdout.splitlines()
               if line.startswith("SKIPPED") and "test_typing" in line]
    assert not skipped, "the typing tests did not run against the wheel: " + "\n".join(skipped)
    print(f"{'whole suite' if full else 'core tests'} against {installed.wheel.name}: "
          f"{summary} ({time.monotonic() - started:.1f} s)")


def test_the_sdist_builds_from_source_in_a_fresh_venv(dist: Dist, tmp_path: Path) -> None:
    """What pip does where no wheel fits: build the sdist with the
    machine's own compiler."""
    python = make_venv(Path(sys.executable), tmp_path / "venv")
    run([python, "-m", "pip", "install", "--no-binary", "fastcore-http", dist.sdist],
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
