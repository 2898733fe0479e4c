# SMPLAT: `make run` starts the shop, `make test` runs every test. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
BUN_VERSION := 1.4.5
BUN := $(TOOLS)/node_modules/.bin/bun
# Reinstall Python dependencies whenever pyproject.toml changes.
DEPS_STAMP := $(VENV)/.deps-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST := $(BIN)/python -m pytest

.PHONY: run test test-slow test-all lint format test-unit test-integration test-browser setup browser-deps migrate seed clean

run: setup
	@$(BIN)/python -m smplat.cli run

# Every tier except the `slow` cases (whole processes killed, two workers, `make run` itself).
test: setup browser-deps lint
	@$(PYTEST) -m "not slow" $(PYTEST_ARGS)

# The slow cases alone; CI runs `make test` and then this.
test-slow: setup browser-deps
	@$(PYTEST) -m slow $(PYTEST_ARGS)

test-all: test test-slow

# Lint and format check (seconds); `make format` rewrites the tree the way the check wants it.
lint: setup
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: setup
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

test-unit: setup
	@$(PYTEST) -m unit $(PYTEST_ARGS)

test-integration: setup
	@$(PYTEST) -m integration $(PYTEST_ARGS)

test-browser: setup browser-deps
	@$(PYTEST) -m browser $(PYTEST_ARGS)

migrate: setup
	@$(BIN)/python -m smplat.cli migrate

seed: setup
	@$(BIN)/python -m smplat.cli seed

setup: $(DEPS_STAMP) $(BUN)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEPS_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.deps-* && touch $@

# Reflex would download bun from the internet; take it from the npm registry instead.
$(BUN):
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error bun@$(BUN_VERSION)
	@$(BUN) --version >/dev/null

# Browser tests drive Debian's Chromium (never `playwright install`).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing Chromium from Debian packages…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-liberation >/dev/null; \
	  else \
	    echo "Chromium is missing: run 'sudo apt-get install chromium chromium-driver' (browser tests need /usr/bin/chromium)"; exit 1; \
	  fi; \
	fi

clean:
	rm -rf .web .web-test test-output .pytest_cache
