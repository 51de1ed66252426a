# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit migrate bench clean

# The dev lock: everything the image runs (requirements.lock) plus the test and lint tools, at the same pins.
$(STAMP): requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Start the bot: SQLite file, in-process scheduler, port 3000 (override with .env).
run: $(STAMP)
	$(BIN)/whoelse db upgrade
	$(BIN)/whoelse serve

## The whole suite: lint, type checks, then every test (PostgreSQL too when it is reachable).
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

migrate: $(STAMP)
	$(BIN)/whoelse db upgrade

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/fanout.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
