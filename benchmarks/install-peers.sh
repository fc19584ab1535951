#!/usr/bin/env bash
# Installs what the benchmarks drive: nginx, wrk, gcc (the C reference
# server) and libev-dev (bjoern builds against it) with apt, and the Python
# peers, Flask, pytest-benchmark, matplotlib and what a baseline build needs
# (Cython, setuptools: --baseline REF builds fastcore at REF in this venv)
# with pip into a virtualenv.
#
#   benchmarks/install-peers.sh [VENV]     (default: $VIRTUAL_ENV, else .venv)
#
# fastcore itself is not installed here: build it in place
# (python setup.py build_ext --inplace) or pip install -e . into the venv.
set -euo pipefail

venv=${1:-${VIRTUAL_ENV:-.venv}}
python="$venv/bin/python"
[ -x "$python" ] || { echo "install-peers.sh: no virtualenv at $venv" >&2; exit 1; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_install() { $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }

$sudo apt-get update -qq
apt_install wrk libev-dev gcc
# nginx-light is enough (return, static files); newer Debian only has nginx.
apt_install nginx-light || apt_install nginx
# bjoern is built from source: it needs the headers of the venv's Python.
if [ ! -f "$("$python" -c 'import sysconfig; print(sysconfig.get_path("include"))')/Python.h" ]; then
    apt_install python3-dev
fi

"$python" -m pip install -q pytest pytest-benchmark matplotlib flask "Cython>=3.1" "setuptools>=77"
# Each peer on its own: one that fails to install (bjoern builds from
# source) is then skipped by the benchmarks with the reason, not fatal.
for peer in "uvicorn uvloop httptools" granian socketify bjoern gunicorn waitress; do
    # shellcheck disable=SC2086
    "$python" -m pip install -q $peer || echo "install-peers.sh: could not install $peer; its benchmarks will be skipped" >&2
done

echo "install-peers.sh: done; versions:"
"$python" -m pip list 2>/dev/null | grep -iE '^(uvicorn|uvloop|httptools|granian|socketify|bjoern|gunicorn|waitress|flask|cython|pytest-benchmark|matplotlib) '
nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1
wrk -v 2>&1 | head -1 || true
