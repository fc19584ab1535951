#!/usr/bin/env python3
"""Check built distributions of fastcore-http before they are shipped.

    python scripts/check_dist.py [--source DIR] [--allow-linux-tag] FILE...

FILE is a wheel (.whl) or an sdist (.tar.gz). A wheel must hold the
package, its type information (py.typed, _core.pyi) and exactly one
compiled engine, and nothing else: no generated C, no tests, no
benchmarks, no RPATH/RUNPATH in any shared object (pyenv's and other
self-built Pythons bake their own lib directory into extensions unless the
build links with a plain ``LDSHARED="gcc -shared"``), and a repaired
(manylinux/musllinux) platform tag. An sdist must carry every source the
extension is built from (.pyx, .pxd, .pxi, fastcore/includes/*.pxd) and
the type information, and no generated C or compiled objects; with
``--source`` it must carry every package file of that source tree.

Standard library only, so that it runs anywhere (CI hosts, containers).
Exits 1 and lists the problems if any file fails.
"""

from __future__ import annotations

import argparse
import fnmatch
import struct
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

PACKAGE = "fastcore"
DIST = "fastcore_http"

# What the wheel and the sdist must hold, beyond the Python modules.
TYPE_FILES = ("fastcore/py.typed", "fastcore/_core.pyi")
BUILD_SOURCES = ("fastcore/_core.pyx", "fastcore/_core.pxd",
                 "fastcore/includes/syscalls.pxd")
# Never shipped in any distribution.
FORBIDDEN = ("*.c", "*.cpp", "*.o", "*.obj", "*.a", "*.pyc", "*/__pycache__/*")
# The package files of a source tree that an sdist must carry.
SOURCE_PATTERNS = ("*.py", "*.pyx", "*.pxd", "*.pxi", "*.pyi", "py.typed")

DT_NULL, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 5, 15, 29
SHT_DYNAMIC = 6


def elf_search_paths(data: bytes) -> dict[str, str]:
    """DT_RPATH / DT_RUNPATH entries of an ELF shared object (empty if it
    has none). Reads the dynamic section through the section headers, so it
    needs no binutils."""
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        section = end + "IIQQQQIIQQ"
        entry = end + "qQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        section = end + "IIIIIIIIII"
        entry = end + "iI"
    sections = [struct.unpack_from(section, data, shoff + i * shentsize)
                for i in range(shnum)]
    found: dict[str, str] = {}
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, _entsize in sections:
        if kind != SHT_DYNAMIC:
            continue
        strtab_offset = sections[link][4]
        step = struct.calcsize(entry)
        for pos in range(offset, offset + size, step):
            tag, value = struct.unpack_from(entry, data, pos)
            if tag == DT_NULL:
                break
            if tag in (DT_RPATH, DT_RUNPATH):
                start = strtab_offset + value
                text = data[start:data.index(b"\0", start)].decode()
                found["RUNPATH" if tag == DT_RUNPATH else "RPATH"] = text
    return found


def _forbidden(name: str) -> bool:
    base = PurePosixPath(name).name
    return any(fnmatch.fnmatch(base, p) or fnmatch.fnmatch(name, p) for p in FORBIDDEN)


def check_wheel(path: Path, allow_linux_tag: bool = False) -> list[str]:
    problems: list[str] = []
    parts = path.name[:-len(".whl")].split("-")
    if len(parts) != 5 or parts[0] != DIST:
        return [f"not a {DIST} wheel name: {path.name}"]
    _, version, python_tag, abi_tag, platform_tag = parts
    if platform_tag.startswith("linux_") and not allow_linux_tag:
        problems.append(f"platform tag {platform_tag} was not repaired "
                        "(auditwheel repair gives manylinux_*/musllinux_*)")
    dist_info = f"{DIST}-{version}.dist-info/"
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        for name in names:
            top = name.split("/", 1)[0] + "/"
            if top not in (f"{PACKAGE}/", dist_info, f"{DIST}.libs/"):
                problems.append(f"unexpected file outside the package: {name}")
            elif _forbidden(name):
                problems.append(f"build by-product shipped: {name}")
        for required in ("fastcore/__init__.py", *TYPE_FILES):
            if required not in names:
                problems.append(f"missing {required}")
        engines = [n for n in names if fnmatch.fnmatch(n, "fastcore/_core.*.so")]
        if len(engines) != 1:
            problems.append(f"expected one compiled fastcore/_core.*.so, found {engines}")
        for name in names:
            if name.endswith(".so") or ".so." in name:
                paths = elf_search_paths(wheel.read(name))
                for kind, value in paths.items():
                    problems.append(f"{name} has {kind} {value!r}")
        metadata = wheel.read(dist_info + "METADATA").decode()
        if "Requires-Dist: httptools" not in metadata:
            problems.append("METADATA does not require httptools")
        info = wheel.read(dist_info + "WHEEL").decode()
        if "Root-Is-Purelib: false" not in info:
            problems.append("WHEEL says Root-Is-Purelib is not false")
        expected = f"Tag: {python_tag}-{abi_tag}-"
        if expected not in info:
            problems.append(f"WHEEL has no {expected}... tag")
    return problems


def check_sdist(path: Path, source: Path | None = None) -> list[str]:
    problems: list[str] = []
    with tarfile.open(path) as sdist:
        names = [m.name for m in sdist.getmembers() if m.isfile()]
    if not names:
        return [f"{path.name} is empty"]
    prefix = names[0].split("/", 1)[0] + "/"
    inner = [n[len(prefix):] for n in names if n.startswith(prefix)]
    for required in ("pyproject.toml", "setup.py", "PKG-INFO", "README.md",
                     *BUILD_SOURCES, *TYPE_FILES):
        if required not in inner:
            problems.append(f"missing {required}")
    if not any(n.endswith(".pxi") for n in inner):
        problems.append("no .pxi file")
    for name in inner:
        if _forbidden(name) or name.endswith(".so"):
            problems.append(f"build by-product shipped: {name}")
        if name.startswith("benchmarks/"):
            problems.append(f"benchmark shipped: {name}")
    if source is not None:
        for file in sorted((source / PACKAGE).rglob("*")):
            relative = file.relative_to(source).as_posix()
            if (file.is_file() and "__pycache__" not in relative
                    and any(fnmatch.fnmatch(file.name, p) for p in SOURCE_PATTERNS)
                    and relative not in inner):
                problems.append(f"source file missing from the sdist: {relative}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--source", type=Path,
                        help="source tree whose package files an sdist must carry")
    parser.add_argument("--allow-linux-tag", action="store_true",
                        help="accept an unrepaired linux_* wheel")
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        if path.name.endswith(".whl"):
            problems = check_wheel(path, args.allow_linux_tag)
        elif path.name.endswith(".tar.gz"):
            problems = check_sdist(path, args.source)
        else:
            problems = [f"neither a wheel nor an sdist: {path}"]
        if problems:
            failed = True
            print(f"FAIL {path.name}")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"ok   {path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
