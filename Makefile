# otel-run developer commands. `make demo` and `make test` work on a fresh machine
# with only Python 3.10+ and pip: they create .venv and install what they need into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo demo-install test install lint typecheck hadolint unit e2e image clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A real (non-editable) install: otel-run finds its boot directory through the
# installed package, exactly as users get it.
install: $(BIN)/python
	$(BIN)/python -m pip install --quiet '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall .

# The demo needs otel-run and the sample app's own packages, not the development tools.
demo-install: $(BIN)/python
	$(BIN)/python -m pip install --quiet . -r sample_app/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall .

## The main job: the sample app under otel-run, its traces shown by the local receiver.
demo: demo-install
	PATH="$(abspath $(BIN)):$$PATH" sh sample_app/demo.sh

lint: install
	$(BIN)/ruff check wrapper tests sample_app bench sitecustomize.py
	$(BIN)/ruff format --check wrapper tests sample_app bench sitecustomize.py

typecheck: install
	$(BIN)/mypy

hadolint: install
	$(BIN)/hadolint Dockerfile.base sample_app/Dockerfile

## The whole suite: lint, types, Dockerfile lint, unit, end-to-end and image tests.
test: lint typecheck hadolint
	$(BIN)/pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: install
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

## The golden image built and run (root, docker.io and debootstrap: see docs/image.md).
image: install
	$(BIN)/pytest tests/image $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
