#!/usr/bin/env python3
"""Let the running CPython build extensions for another Linux architecture.

    python scripts/cross_sysconfig.py --zig ZIG --target ARCH-linux-gnu.2.17 DIR

Run it with the interpreter the wheel is for. It checks that this
interpreter's headers describe the target too, then writes into DIR a copy
of the interpreter's build configuration (its ``_sysconfigdata`` module)
with the target's platform triplet in the extension suffix, and prints the
environment that makes a build use it:

    PYTHONPATH=DIR
    _PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__linux_aarch64-linux-gnu
    _PYTHON_HOST_PLATFORM=linux-aarch64

CPython's sysconfig reads its configuration from the module that
``_PYTHON_SYSCONFIGDATA_NAME`` names and its platform from
``_PYTHON_HOST_PLATFORM``: that is how CPython's own cross builds name
their extensions (``_core.cpython-312-aarch64-linux-gnu.so``) and how
setuptools tags the wheel (``linux_aarch64``). Only the names change; the
compiler is the caller's (zig, with ``-target``).

Why the check: the headers (pyconfig.h) were generated for this machine.
On Linux the 64-bit ABIs agree on what pyconfig.h records (type sizes and
alignments, byte order), and the check proves it for the target at hand:
every ``SIZEOF_*`` and ``ALIGNOF_*`` in pyconfig.h is compared with what
the target's compiler says, with ``_Static_assert``, in a file that
includes ``Python.h`` and is compiled for the target. A mismatch stops the build instead of shipping a
wheel that would corrupt memory on a machine nobody here can run it on.
"""

from __future__ import annotations

import argparse
import importlib
import pprint
import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

# pyconfig.h's names for the C types whose sizes it records, where
# lower-casing the name does not give the type (SIZEOF_SIZE_T -> size_t).
C_TYPES = {"VOID_P": "void *", "_BOOL": "_Bool", "LONG_LONG": "long long",
           "LONG_DOUBLE": "long double"}
HEADERS = ("Python.h", "pthread.h", "stddef.h", "stdint.h", "stdio.h",
           "sys/types.h", "time.h", "wchar.h")


def layout_check(pyconfig: str) -> str:
    """C source that compiles only where pyconfig.h's layout facts hold."""
    lines = [f"#include <{h}>" if h != "Python.h" else '#include "Python.h"' for h in HEADERS]
    for kind, name in re.findall(r"^#define (SIZEOF|ALIGNOF)_(\w+) \d+", pyconfig, re.M):
        ctype = C_TYPES.get(name, name.lower())
        operator = "sizeof" if kind == "SIZEOF" else "_Alignof"
        lines.append(f'_Static_assert({operator}({ctype}) == {kind}_{name}, '
                     f'"pyconfig.h: {kind}_{name} does not hold for the target");')
    lines += [
        "#if defined(WORDS_BIGENDIAN) != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)",
        '#error "pyconfig.h: the byte order differs from the target\'s"',
        "#endif",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zig", required=True, help="the zig binary")
    parser.add_argument("--target", required=True, help="e.g. aarch64-linux-gnu.2.17")
    parser.add_argument("dir", type=Path, help="where to write the configuration module")
    args = parser.parse_args(argv)

    arch = args.target.split("-", 1)[0]
    soabi = sysconfig.get_config_var("SOABI") or ""
    # SOABI is cpython-312-x86_64-linux-gnu (cpython-313t-... when free-threaded).
    match = re.fullmatch(r"(cpython-\d+t?)-(\w+)-linux-gnu", soabi)
    if not match:
        parser.error(f"not a CPython for glibc Linux (SOABI {soabi!r})")
    host_triplet = f"{match.group(2)}-linux-gnu"
    target_triplet = f"{arch}-linux-gnu"

    pyconfig = Path(sysconfig.get_config_h_filename()).read_text()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "layout.c"
        source.write_text(layout_check(pyconfig))
        result = subprocess.run(
            [args.zig, "cc", "-target", args.target, "-c", "-o", str(source.with_suffix(".o")),
             "-I", sysconfig.get_path("include"), str(source)],
            capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        print(f"cross_sysconfig: this CPython's headers do not fit {args.target}",
              file=sys.stderr)
        return 1

    host_name = sysconfig._get_sysconfigdata_name()  # type: ignore[attr-defined]
    host_vars = importlib.import_module(host_name).build_time_vars
    target_vars = dict(host_vars)
    # The names an extension gets; paths (LIBPL, srcdir) stay the host's.
    for key in ("SOABI", "EXT_SUFFIX", "MULTIARCH", "MULTIARCH_CPPFLAGS"):
        if isinstance(target_vars.get(key), str):
            target_vars[key] = target_vars[key].replace(host_triplet, target_triplet)
    target_name = host_name.replace(host_triplet, target_triplet)
    if target_name == host_name:
        target_name = f"{host_name}_{arch}"
    args.dir.mkdir(parents=True, exist_ok=True)
    (args.dir / f"{target_name}.py").write_text(
        f"# {host_name} with the names of {target_triplet}: scripts/cross_sysconfig.py\n"
        f"build_time_vars = {pprint.pformat(target_vars)}\n")
    print(f"PYTHONPATH={args.dir.resolve()}")
    print(f"_PYTHON_SYSCONFIGDATA_NAME={target_name}")
    print(f"_PYTHON_HOST_PLATFORM=linux-{arch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
