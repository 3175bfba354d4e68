# gongdan: two commands do everything — `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint typecheck setup clean ui ui-test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

setup: $(STAMP)

# The demo: the repair line on SQLite at http://127.0.0.1:8000, with admin's password (first run)
# and an admin token printed.
run: setup ui
	GONGDAN_DATABASE_URL=$${GONGDAN_DATABASE_URL:-sqlite:///./gongdan.db} $(BIN)/gongdan demo load
	GONGDAN_DATABASE_URL=$${GONGDAN_DATABASE_URL:-sqlite:///./gongdan.db} $(BIN)/gongdan serve --host 127.0.0.1 --port 8000

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# the browser tests (tests/browser) fail, rather than skip, without Chromium or the UI build
test: export GONGDAN_REQUIRE_BROWSER = 1
test: setup lint ui-test
	bash .ci/ensure-postgres
	bash .ci/ensure-chromium
	$(BIN)/pytest

bench: setup
	bash .ci/ensure-postgres
	$(BIN)/python benchmarks/run.py

# The admin UI (admin-ui/): dependencies reinstalled (npm ci) only when the lock file
# changes, the build redone only when a source changes.
UI_DEPS := admin-ui/node_modules/.gongdan-installed
UI_STAMP := admin-ui/dist/.gongdan-built
UI_SOURCES := $(shell find admin-ui/src admin-ui/public -type f 2>/dev/null) \
	admin-ui/index.html admin-ui/vite.config.ts admin-ui/tsconfig.json admin-ui/tsconfig.app.json

$(UI_DEPS): admin-ui/package.json admin-ui/package-lock.json
	cd admin-ui && npm ci --no-audit --no-fund
	touch $(UI_DEPS)

$(UI_STAMP): $(UI_DEPS) $(UI_SOURCES)
	cd admin-ui && npm run build
	touch $(UI_STAMP)

ui: $(UI_STAMP)

ui-test: $(UI_STAMP)
	cd admin-ui && npm test -- --run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
