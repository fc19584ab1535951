#!/usr/bin/env python3
"""Check built distributions of fastcore-http before they are shipped.

    python scripts/check_dist.py [--source DIR] [--allow-linux-tag]
                                 [--max-glibc X.Y] [--same-files-as WHEEL] FILE...

FILE is a wheel (.whl) or an sdist (.tar.gz). A wheel must hold the
package, its type information (py.typed, _core.pyi) and exactly one
compiled engine, and nothing else: no generated C, no tests, no
benchmarks, no RPATH/RUNPATH in any shared object (pyenv's and other
self-built Pythons bake their own lib directory into extensions unless the
build replaces their LDSHARED, as scripts/build-wheels.sh does), and a
repaired (manylinux/musllinux) platform tag. With ``--max-glibc 2.17``,
each shared object may take only Python's C API and glibc symbols of
versions up to 2.17 (a manylinux2014 wheel). With ``--same-files-as``,
each wheel must also agree with that one, built another way (by
cibuildwheel, say): the same files, byte for byte but for the compiled
engine and the records, and the same metadata.

An sdist must carry every source the extension is built from (.pyx, .pxd,
.pxi, fastcore/includes/*.pxd) and the type information, and no generated
C or compiled objects; with ``--source`` it must carry every package file
of that source tree.

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
SHT_DYNAMIC, SHT_DYNSYM = 6, 11
SHT_GNU_VERNEED, SHT_GNU_VERSYM = 0x6FFFFFFE, 0x6FFFFFFF
SHN_UNDEF, STB_WEAK = 0, 2


class _Elf:
    """The section headers of an ELF file, read with struct alone so that
    the checks need no binutils."""

    def __init__(self, data: bytes) -> None:
        if data[:4] != b"\x7fELF":
            raise ValueError("not an ELF file")
        self.data = data
        self.is64 = data[4] == 2
        self.end = "<" if data[5] == 1 else ">"
        if self.is64:
            shoff, = struct.unpack_from(self.end + "Q", data, 0x28)
            shentsize, shnum = struct.unpack_from(self.end + "HH", data, 0x3A)
            layout = self.end + "IIQQQQIIQQ"
        else:
            shoff, = struct.unpack_from(self.end + "I", data, 0x20)
            shentsize, shnum = struct.unpack_from(self.end + "HH", data, 0x2E)
            layout = self.end + "IIIIIIIIII"
        # (name, type, flags, addr, offset, size, link, info, align, entsize)
        self.sections = [struct.unpack_from(layout, data, shoff + i * shentsize)
                         for i in range(shnum)]

    def of_type(self, kind: int) -> list[tuple[int, ...]]:
        return [section for section in self.sections if section[1] == kind]

    def string(self, strtab: int, offset: int) -> str:
        start = self.sections[strtab][4] + offset
        return self.data[start:self.data.index(b"\0", start)].decode()


def elf_search_paths(data: bytes) -> dict[str, str]:
    """DT_RPATH / DT_RUNPATH entries of an ELF shared object (empty if it
    has none), from its dynamic section."""
    elf = _Elf(data)
    entry = elf.end + ("qQ" if elf.is64 else "iI")
    found: dict[str, str] = {}
    for section in elf.of_type(SHT_DYNAMIC):
        offset, size, link = section[4], section[5], section[6]
        for pos in range(offset, offset + size, struct.calcsize(entry)):
            tag, value = struct.unpack_from(entry, data, pos)
            if tag == DT_NULL:
                break
            if tag in (DT_RPATH, DT_RUNPATH):
                found["RUNPATH" if tag == DT_RUNPATH else "RPATH"] = elf.string(link, value)
    return found


def elf_imports(data: bytes) -> list[tuple[str, str | None]]:
    """The symbols an ELF shared object takes from elsewhere, other than
    weak ones: (name, version), the version (GLIBC_2.17) from its
    .gnu.version_r needs, or None for an unversioned symbol."""
    elf = _Elf(data)
    # Version index -> name, from the Elf_Verneed / Elf_Vernaux chains.
    versions: dict[int, str] = {}
    for section in elf.of_type(SHT_GNU_VERNEED):
        need, link = section[4], section[6]
        while True:
            _version, count, _file, aux, next_need = struct.unpack_from(elf.end + "HHIII", data, need)
            pos = need + aux
            for _ in range(count):
                _hash, _flags, index, name, next_aux = struct.unpack_from(elf.end + "IHHII", data, pos)
                versions[index] = elf.string(link, name)
                pos += next_aux
            if not next_need:
                break
            need += next_need
    versym = elf.of_type(SHT_GNU_VERSYM)
    symbol = elf.end + ("IBBHQQ" if elf.is64 else "IIIBBH")
    imports: list[tuple[str, str | None]] = []
    for section in elf.of_type(SHT_DYNSYM):
        offset, size, link, entsize = section[4], section[5], section[6], section[9]
        for i in range(size // entsize):
            fields = struct.unpack_from(symbol, data, offset + i * entsize)
            name, info, shndx = (fields[0], fields[1], fields[3]) if elf.is64 else (
                fields[0], fields[3], fields[5])
            if i == 0 or shndx != SHN_UNDEF or info >> 4 == STB_WEAK:
                continue
            index = 0
            if versym:
                index, = struct.unpack_from(elf.end + "H", data, versym[0][4] + 2 * i)
            # 0 and 1 are "local" and "global": no version.
            imports.append((elf.string(link, name), versions.get(index & 0x7FFF)))
    return imports


def glibc_problems(name: str, data: bytes, max_glibc: tuple[int, int]) -> list[str]:
    """A glibc wheel's shared object may take only Python's C API (which
    the interpreter provides, unversioned) and glibc symbols whose versions
    are at most max_glibc. An unversioned symbol of any other name is one
    that the libc it was linked against did not have: zig links a call
    that its glibc stubs lack without complaint, and the dynamic loader
    then fails on a machine whose glibc lacks it too."""
    problems: list[str] = []
    for symbol, version in elf_imports(data):
        if version is None:
            if not symbol.startswith(("Py", "_Py")):
                problems.append(f"{name} takes {symbol} without a version: "
                                f"not from glibc <= {max_glibc[0]}.{max_glibc[1]} nor Python")
        elif version.startswith("GLIBC_"):
            numbers = tuple(int(n) for n in version[len("GLIBC_"):].split(".")[:2])
            if numbers > max_glibc:
                problems.append(f"{name} needs {symbol}@{version}")
    return problems


def _forbidden(name: str) -> bool:
    base = PurePosixPath(name).name
    return any(fnmatch.fnmatch(base, p) or fnmatch.fnmatch(name, p) for p in FORBIDDEN)


def check_wheel(path: Path, allow_linux_tag: bool = False,
                max_glibc: tuple[int, int] | None = None) -> list[str]:
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
                data = wheel.read(name)
                for kind, value in elf_search_paths(data).items():
                    problems.append(f"{name} has {kind} {value!r}")
                if max_glibc is not None:
                    problems += glibc_problems(name, data, max_glibc)
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


def compare_wheels(path: Path, reference: Path) -> list[str]:
    """What differs between two builds of the same release for the same
    Python: only the compiled engine, the hashes that record it and the
    WHEEL file (generator, platform tags) may."""
    problems: list[str] = []
    with zipfile.ZipFile(path) as wheel, zipfile.ZipFile(reference) as other:
        # Files only: auditwheel's repair adds entries for directories.
        names = {name for name in wheel.namelist() if not name.endswith("/")}
        other_names = {name for name in other.namelist() if not name.endswith("/")}
        for name in sorted(names ^ other_names):
            side = path.name if name in names else reference.name
            problems.append(f"only {side} has {name}")
        for name in sorted(names & other_names):
            if (fnmatch.fnmatch(name, "fastcore/_core.*.so")
                    or name.endswith((".dist-info/RECORD", ".dist-info/WHEEL"))):
                continue
            if wheel.read(name) != other.read(name):
                problems.append(f"{name} differs from {reference.name}'s")
        # cp312-cp312-manylinux2014_x86_64 -> cp312-cp312
        ours = {tag.rsplit("-", 1)[0] for tag in _wheel_tags(wheel)}
        theirs = {tag.rsplit("-", 1)[0] for tag in _wheel_tags(other)}
        if ours != theirs:
            problems.append(f"Python/ABI tags {sorted(ours)} differ from "
                            f"{reference.name}'s {sorted(theirs)}")
    return problems


def _wheel_tags(wheel: zipfile.ZipFile) -> set[str]:
    info = next(n for n in wheel.namelist() if n.endswith(".dist-info/WHEEL"))
    return {line.split(": ", 1)[1] for line in wheel.read(info).decode().splitlines()
            if line.startswith("Tag: ")}


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
    parser.add_argument("--max-glibc", metavar="X.Y",
                        type=lambda text: tuple(int(n) for n in text.split(".")),
                        help="the newest glibc a wheel's shared objects may need")
    parser.add_argument("--same-files-as", type=Path, metavar="WHEEL",
                        help="a wheel built another way that each wheel must agree with")
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        if path.name.endswith(".whl"):
            problems = check_wheel(path, args.allow_linux_tag, args.max_glibc)
            if args.same_files_as is not None:
                problems += compare_wheels(path, args.same_files_as)
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
