# LogiData developer tasks. `make help` lists the targets.
#
# Extending: put new tool prerequisites (UI build, PostgreSQL/S3 test services, ...) in their own section
# and add them to TEST_PREREQS / DEMO_PREREQS; keep `venv` the only target that installs Python packages.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints/dev.txt
# Written after a successful install; lives in the venv so deleting the venv also resets it.
VENV_STAMP := $(VENV)/.logidata-installed
SRC := airflow_provider_logidata tests build_backend

CI ?=
# CI-friendly flags: no colours, no caches written into the checkout, a summary of non-passing tests.
ifneq ($(strip $(CI)),)
RUFF_FLAGS ?= --no-cache --output-format=full
MYPY_FLAGS ?= --no-color-output
PYTEST_FLAGS ?= -q -ra -p no:cacheprovider --color=no
else
RUFF_FLAGS ?=
MYPY_FLAGS ?=
PYTEST_FLAGS ?= -q -ra
endif
PYTEST_ARGS ?=
BENCH_ARGS ?=

# Quiet, non-interactive installers.
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1
export UV_NO_PROGRESS := 1
# The test suite never phones home (dag-factory telemetry in the benchmarks, Airflow usage data).
export DO_NOT_TRACK := 1
export SCARF_NO_ANALYTICS := true

# Prerequisites of `make test` and `make demo`; later sections append to these (UI bundle, services).
TEST_PREREQS := venv
DEMO_PREREQS := venv

.PHONY: help venv test lint bench demo clean distclean constraints

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------------------------------------
# Python environment

venv: $(VENV_STAMP) ## Create/refresh .venv from the lock (re-runs only when pyproject/constraints change)

$(VENV_STAMP): pyproject.toml $(CONSTRAINTS)
	@if [ ! -x "$(BIN)/python" ]; then \
		echo "creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv "$(VENV)"; \
	fi
	@echo "installing LogiData and its locked dependencies into $(VENV) (the first time takes a few minutes) ..."
	@"$(BIN)/python" -m pip install --quiet -c "$(CONSTRAINTS)" uv
	@# --quiet: uv would list every one of the ~200 packages it installs; errors still print.
	@"$(BIN)/uv" pip install --quiet --python "$(BIN)/python" -c "$(CONSTRAINTS)" -e '.[dev]'
	@echo "$(VENV) is ready"
	@touch "$@"

constraints: venv ## Regenerate constraints/dev.txt from the current .venv
	scripts/update-constraints.sh "$(VENV)"

# ---------------------------------------------------------------------------------------------------------
# Builder UI (ui/: Vite + React + TypeScript). The bundle is built into the package as package data
# ($(UI_DIST), not committed) so the wheel ships it and `pip install` needs no Node. `npm ci` runs only
# when the lockfile changed; the bundle is rebuilt only when a UI source changed.

NPM ?= npm
UI_DIR := ui
UI_DIST := airflow_provider_logidata/ui_dist
UI_NPM_STAMP := $(UI_DIR)/node_modules/.logidata-npm-ci
UI_SOURCES := $(shell find $(UI_DIR)/src $(UI_DIR)/index.html $(UI_DIR)/vite.config.ts $(UI_DIR)/tsconfig.json -type f 2>/dev/null)
CHROMIUM ?= /usr/bin/chromium

.PHONY: ui ui-test ui-typegen chromium

ui: $(UI_DIST)/index.html ## Build the builder UI bundle into the package (npm ci first when the lockfile changed)

$(UI_NPM_STAMP): $(UI_DIR)/package-lock.json $(UI_DIR)/package.json
	@command -v "$(NPM)" >/dev/null || { echo "error: npm not found; install Node.js 20.19+ (the UI build needs it)" >&2; exit 1; }
	cd $(UI_DIR) && $(NPM) ci --no-audit --no-fund --loglevel=error
	@touch "$@"

$(UI_DIST)/index.html: $(UI_NPM_STAMP) $(UI_SOURCES)
	cd $(UI_DIR) && $(NPM) run --silent build

ui-test: $(UI_NPM_STAMP) ## UI unit tests (vitest) and the check that the generated API types are fresh
	cd $(UI_DIR) && $(NPM) run --silent typegen:check
	cd $(UI_DIR) && $(NPM) run --silent test

ui-typegen: $(UI_NPM_STAMP) ## Regenerate ui/openapi.json from the API and ui/src/api/schema.d.ts from it
	"$(BIN)/python" scripts/export-openapi.py
	cd $(UI_DIR) && $(NPM) run --silent typegen

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
chromium:
	@if [ -x "$(CHROMIUM)" ] || command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "warning: chromium is missing and cannot be installed here (not root); browser tests will skip" >&2; \
	fi

TEST_PREREQS += ui ui-test chromium
DEMO_PREREQS += ui

# ---------------------------------------------------------------------------------------------------------
# Checks

lint: venv ## ruff (lint + format check) and mypy
	"$(BIN)/ruff" check $(RUFF_FLAGS) $(SRC)
	"$(BIN)/ruff" format --check $(RUFF_FLAGS) $(SRC)
	"$(BIN)/mypy" $(MYPY_FLAGS)

test: $(TEST_PREREQS) lint ## Lint, type-check, then run the whole pytest suite
	"$(BIN)/pytest" $(PYTEST_FLAGS) $(PYTEST_ARGS)

# ---------------------------------------------------------------------------------------------------------
# Benchmarks and demo

bench: venv ## Benchmarks: factory parse, engine vs pandas/DuckDB, PostgreSQL load (~15 min; BENCH_ARGS="--only engine")
	"$(BIN)/python" benchmarks/run.py $(BENCH_ARGS)

demo: $(DEMO_PREREQS) ## Run Airflow + LogiData locally on http://127.0.0.1:8080 (Ctrl-C stops)
	PATH="$(abspath $(BIN)):$$PATH" scripts/demo.sh

# ---------------------------------------------------------------------------------------------------------
# Cleaning

clean: ## Remove demo state, caches and build output (keeps .venv)
	rm -rf .demo .test-artifacts .pytest_cache .mypy_cache .ruff_cache build dist
	find . -path ./$(VENV) -prune -o -path ./node_modules -prune -o -name __pycache__ -type d -print0 \
		| xargs -0 rm -rf

distclean: clean ## clean, and remove .venv and egg-info
	rm -rf "$(VENV)" *.egg-info
