# gongdan: two commands do everything — `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint typecheck setup clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

setup: $(STAMP)

# The demo: the repair line on SQLite at http://127.0.0.1:8000, with an admin token printed.
run: setup
	GONGDAN_DATABASE_URL=$${GONGDAN_DATABASE_URL:-sqlite:///./gongdan.db} $(BIN)/gongdan demo load
	GONGDAN_DATABASE_URL=$${GONGDAN_DATABASE_URL:-sqlite:///./gongdan.db} $(BIN)/gongdan serve --host 127.0.0.1 --port 8000

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: setup lint
	bash .ci/ensure-postgres
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
