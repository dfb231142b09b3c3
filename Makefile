# `make dev` and `make test` work on a fresh machine: each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# What `make dev` needs (the runtime) and what `make test` adds (the test extras).
RUNTIME := $(VENV)/.runtime-$(HASH)
STAMP  := $(VENV)/.installed-$(HASH)

.PHONY: dev test test-fast faults lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.runtime-* && touch $(RUNTIME)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* $(VENV)/.runtime-* && touch $(STAMP) $(RUNTIME)

# axe-core, the accessibility engine tests/test_dashboard.py serves to the dashboard's pages
# (npm registry, pinned; beside the venv, so `make clean` removes it too).
AXE := $(VENV)/node/node_modules/axe-core/axe.min.js

$(AXE): | $(BIN)/python
	npm install --silent --no-save --no-package-lock --prefix $(VENV)/node axe-core@4.14.1

install: $(STAMP) $(AXE)

dev: $(RUNTIME)
	$(BIN)/agent-scheduler dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# Two pytest workers: most tests wait on Temporal, servers and timers, not on the CPU. Each
# worker has its own Temporal dev server and PostgreSQL database (tests/conftest.py).
test: install lint
	$(BIN)/python -m pytest -n 2

# The unit tier while editing (tests/README.md): no Temporal, API, worker or browser. One process
# (xdist's start-up costs more than it saves here): 366 tests, 22 s wall measured on 2 cores.
test-fast: install
	$(BIN)/python -m pytest -m unit

# The fault suite (tests/faults/README.md): real Temporal, workers, API and PostgreSQL processes
# killed and restarted; a few minutes, so not part of `make test`. CI runs both.
faults: install
	$(BIN)/python -m pytest -s tests/faults

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
