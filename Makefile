# The README's commands. Two virtualenvs, created and filled from the pinned requirements on first use:
# venv/ holds only the runtime (requirements.txt), the one Pulumi.yaml names, so `pulumi up` runs the program,
# the plugin and the policy pack with nothing else installed; venv-dev/ holds the runtime plus the tests,
# lint and the emulator (requirements-dev.txt), and every target below runs its tools from there.
PYTHON3 ?= python3
VENV ?= venv
DEV_VENV ?= venv-dev
PYTHON := $(DEV_VENV)/bin/python
STACK ?= dev
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check

# GNU make exits 2 whenever a recipe fails, whatever the command's status: the targets whose commands have
# statuses that mean something (README: "Exit statuses") say the command's own status on one line first.
# $(call exited,WHAT,MEANINGS) after `||`: MEANINGS is a `case` body mapping a status to its meaning.
define exited
{ status=$$?; case $$status in $(2) *) why="" ;; esac; echo "$(1) exited $$status$${why:+: $$why}" >&2; exit $$status; }
endef
REVIEW_STATUSES = 1) why="a mandatory policy violation" ;; 2) why="invalid input (stack file, policy config, revision, usage) or an unreadable workspace" ;; 3) why="the review itself failed (a bug)" ;; 4) why="drift: the workspace differs from the declaration" ;;
UP_STATUSES = 4) why="deployed, but the live drift report found drift" ;;
ROLLBACK_STATUSES = 2) why="invalid input (stack, endpoint, --to, the stack file, its history); nothing was changed" ;; 3) why="the rollback command itself failed (a bug)" ;; 4) why="deployed, but the live endpoint or pulumi preview disagrees with the stack file" ;; 5) why="pulumi up failed; the stack file is rewritten (git diff shows it)" ;;

# The packages mypy checks strictly; tests are excluded from strict checking (pyproject.toml).
TYPED := __main__.py components serving provider review policy emulator local_workspace bench databricks_standin rollback

.PHONY: setup review test lint emulator bench clean engine up e2e rollback

setup: $(VENV)/.installed $(DEV_VENV)/.installed

# One line, not a screen of pip errors, when the Python found is too old (PYTHON3=/path/to/python3.11 to choose).
define check_python
@command -v $(PYTHON3) > /dev/null 2>&1 || { echo "make setup: Python 3.11 or newer is needed; there is no $(PYTHON3) (choose one with PYTHON3=/path/to/python3.11)" >&2; exit 1; }
@$(PYTHON3) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "make setup: Python 3.11 or newer is needed; $(PYTHON3) is Python %d.%d.%d (choose one with PYTHON3=/path/to/python3.11)" % tuple(v[:3]))'
endef

$(VENV)/.installed: requirements.txt
	$(check_python)
	$(PYTHON3) -m venv $(VENV)
	$(VENV)/bin/python $(PIP_INSTALL) -r requirements.txt
	touch $@

$(DEV_VENV)/.installed: requirements.txt requirements-dev.txt
	$(check_python)
	$(PYTHON3) -m venv $(DEV_VENV)
	$(DEV_VENV)/bin/python $(PIP_INSTALL) -r requirements-dev.txt
	touch $@

## The main job: build the real engine if needed, deploy STACK with `pulumi up` into the local workspace
## emulator (started, then stopped; its endpoints kept in .local/), print the outputs and the live drift report.
up: engine
	@$(PYTHON) -m local_workspace up --stack $(STACK) $(ARGS) || $(call exited,up,$(UP_STATUSES))

## Run the program for STACK under Pulumi's mock engine and print what it would declare (offline).
review: setup
	@$(PYTHON) -m review $(STACK) $(ARGS) || $(call exited,review,$(REVIEW_STATUSES))

## Emergency rollback: all of ENDPOINT's traffic on its last good version, through `pulumi up`, then checked
## (README: "Emergency rollback"); ARGS="--to ENTITY", "--dry-run", "--local" (the emulator, as `make up`).
rollback: setup
	@test -n "$(ENDPOINT)" || { echo "make rollback: name the endpoint: make rollback STACK=prod ENDPOINT=risk-classifier" >&2; exit 2; }
	@$(PYTHON) -m rollback $(STACK) $(ENDPOINT) $(ARGS) || $(call exited,rollback,$(ROLLBACK_STATUSES))

## Lint, then the whole test suite.
test: setup lint
	$(PYTHON) -m pytest -n auto -m "not engine" $(PYTEST_ARGS)

## End-to-end tests: the real pulumi CLI, the databricks plugin and ours against the emulator (builds the engine).
e2e: engine
	$(PYTHON) -m pytest -m engine -p no:xdist $(PYTEST_ARGS)

## Lint: ruff's rules, ruff's format, and types (mypy, strict on the code that runs: pyproject.toml [tool.mypy]).
lint: setup
	$(DEV_VENV)/bin/ruff check .
	$(DEV_VENV)/bin/ruff format --check .
	$(DEV_VENV)/bin/mypy $(TYPED)

## The real Pulumi CLI and its Python language host, built into ~/.cache/servingops (skipped when present),
## and the databricks plugin installed into .local/pulumi-home (tools/README.md).
engine: setup
	SERVINGOPS_DEV_VENV="$(abspath $(DEV_VENV))" tools/engine.sh build

## The local Databricks workspace emulator on 127.0.0.1:8080.
emulator: setup
	$(PYTHON) -m emulator $(ARGS)

## Benchmarks (see bench/README.md).
bench: setup
	$(PYTHON) -m bench $(ARGS)

clean:
	rm -rf $(VENV) $(DEV_VENV) .pytest_cache .ruff_cache .local
