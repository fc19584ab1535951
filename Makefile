# Distributions of fastcore-http. Nothing here needs a container engine:
# zig (PyPI's ziglang) builds manylinux2014 wheels, glibc 2.17, for x86_64
# and aarch64 on any Linux machine. cibuildwheel builds the set for PyPI in
# CI (.github/workflows/wheels.yml, configured in pyproject.toml).
#
#   make wheels        sdist + manylinux2014 x86_64 and aarch64 wheels for each
#                      local CPython >= 3.11 (pyenv, else PATH), in wheels/
#   make wheel         the same for one interpreter: make wheel PYTHON=python3.12
#                      (WHEEL_ARCHS=x86_64 builds one architecture only)
#   make check-wheels  what the files in wheels/ contain (scripts/check_dist.py)
#   make test-wheels   each local interpreter's wheel: auditwheel's tag, glibc
#                      symbol versions, installed in a fresh venv of that
#                      interpreter and tested (the core tests; SUITE=full for
#                      the whole suite); and the typing tests
#   make cibw-list     the wheels CI builds, from [tool.cibuildwheel]
#   make clean-wheels  remove wheels/*.whl, wheels/*.tar.gz and the build tools

PYTHON ?= python3
TEST_PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,$(PYTHON))
SUITE ?= core
CIBUILDWHEEL_VERSION ?= 4.3.5
CIBW_VENV := build/wheel-tools/cibuildwheel

.PHONY: wheels wheel check-wheels test-wheels cibw-list clean-wheels

wheels:
	scripts/build-wheels.sh

wheel:
	scripts/build-wheels.sh "$$(command -v $(PYTHON))"

check-wheels:
	$(PYTHON) scripts/check_dist.py --source . wheels/*.whl wheels/*.tar.gz

test-wheels:
	FASTCORE_WHEEL_PYTHONS=all FASTCORE_WHEEL_SUITE=$(SUITE) \
	    $(TEST_PYTHON) -m pytest -p no:cacheprovider tests/test_wheels.py tests/test_typing.py

cibw-list:
	test -x $(CIBW_VENV)/bin/cibuildwheel || { $(PYTHON) -m venv $(CIBW_VENV) && \
	    $(CIBW_VENV)/bin/pip install -q "cibuildwheel==$(CIBUILDWHEEL_VERSION)"; }
	$(CIBW_VENV)/bin/cibuildwheel --print-build-identifiers --platform linux .

clean-wheels:
	rm -f wheels/*.whl wheels/*.tar.gz
	rm -rf build/wheel-tools
