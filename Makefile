# The front door. `make run` and `make test` create .venv from requirements.lock when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.samdops-installed
PIP_QUIET := --quiet --disable-pip-version-check --no-input

.PHONY: venv run test unit integration lint compile bench lock clean

venv: $(STAMP)

# pip's "Location ... is ignored" warnings come from this machine's pip.conf and are filtered.
$(STAMP): requirements/app.lock requirements/build.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the locked dependency set into $(VENV) (first time: a few minutes)"
	@set -o pipefail; for lock in requirements/build.lock requirements/app.lock; do \
	  $(PY) -m pip install $(PIP_QUIET) --require-hashes --no-deps -r $$lock 2>&1 \
	    | { grep -v "^WARNING: Location" || true; }; done
	@set -o pipefail; $(PY) -m pip install $(PIP_QUIET) --no-deps --no-build-isolation -e . 2>&1 \
	  | { grep -v "^WARNING: Location" || true; }
	@$(PY) -m pip check
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/samdops run train

test: $(STAMP)
	$(PY) -m pytest -q tests

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

lint: $(STAMP)
	$(VENV)/bin/ruff check src components pipelines tests bench
	$(VENV)/bin/ruff format --check src components pipelines tests bench
	$(VENV)/bin/mypy

compile: $(STAMP)
	$(VENV)/bin/samdops compile

bench: $(STAMP)
	$(PY) bench/run_all.py

# Regenerate the lock file after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu -o requirements/app.lock
	uv pip compile requirements/build.in --generate-hashes --python-version 3.11 -o requirements/build.lock

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
