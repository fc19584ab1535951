# Distributions of fastcore-http. Nothing here needs a container engine:
# the portable manylinux/musllinux set is built by cibuildwheel in CI
# (.github/workflows/wheels.yml, configured in pyproject.toml).
#
#   make wheels        sdist + a wheel for each local CPython >= 3.11 (pyenv), in wheels/
#   make wheel         the same for one interpreter: make wheel PYTHON=python3.12
#   make check-wheels  what the files in wheels/ contain (scripts/check_dist.py)
#   make test-wheels   install the wheel in a fresh venv and test it; typing tests
#   make cibw-list     the wheels CI builds, from [tool.cibuildwheel]
#   make clean-wheels  remove wheels/*.whl, wheels/*.tar.gz and the build tools' venvs

PYTHON ?= python3
TEST_PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,$(PYTHON))
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
	$(TEST_PYTHON) -m pytest -p no:cacheprovider tests/test_wheels.py tests/test_typing.py

cibw-list:
	test -x $(CIBW_VENV)/bin/cibuildwheel || { $(PYTHON) -m venv $(CIBW_VENV) && \
	    $(CIBW_VENV)/bin/pip install -q "cibuildwheel==$(CIBUILDWHEEL_VERSION)"; }
	$(CIBW_VENV)/bin/cibuildwheel --print-build-identifiers --platform linux .

clean-wheels:
	rm -f wheels/*.whl wheels/*.tar.gz
	rm -rf build/wheel-tools
