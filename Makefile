# The README's commands. Everything runs from the project virtualenv `venv/` (the one Pulumi.yaml names),
# created and filled from the pinned requirements on first use.
VENV ?= venv
PYTHON := $(VENV)/bin/python
STACK ?= dev

.PHONY: setup review test lint emulator bench clean engine up e2e

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## The main job: build the real engine if needed, deploy STACK with `pulumi up` into the local workspace
## emulator (started, then stopped; its endpoints kept in .local/), print the outputs and the live drift report.
up: engine
	$(PYTHON) -m local_workspace up --stack $(STACK) $(ARGS)

## Run the program for STACK under Pulumi's mock engine and print what it would declare (offline).
review: setup
	$(PYTHON) -m review $(STACK) $(ARGS)

## Lint, then the whole test suite.
test: setup lint
	$(PYTHON) -m pytest -n auto -m "not engine" $(PYTEST_ARGS)

## End-to-end tests: the real pulumi CLI, the databricks plugin and ours against the emulator (builds the engine).
e2e: engine
	$(PYTHON) -m pytest -m engine -p no:xdist $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

## The real Pulumi CLI and its Python language host, built into ~/.cache/servingops (skipped when present),
## and the databricks plugin installed into .local/pulumi-home (tools/README.md).
engine: setup
	tools/engine.sh build

## The local Databricks workspace emulator on 127.0.0.1:8080.
emulator: setup
	$(PYTHON) -m emulator $(ARGS)

## Benchmarks (see bench/README.md).
bench: setup
	$(PYTHON) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .local
