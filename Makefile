# Relaygate: `make run` starts the gateway on the embedded default, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ASSETS := src/relaygate/web/assets
BROWSER_TESTS := tests/browser

.PHONY: help install lock run test check lint types imports bench bench-tools screenshots clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' Makefile | sed 's/:.*## /\t/'

# Every dependency (runtime and dev) comes from requirements.lock, hashes checked; the
# project itself is installed on top without resolving anything again. The front-end
# packages Relaygate serves (the /docs and /redoc pages' scripts) come from
# $(ASSETS)/package-lock.json, integrity checked by npm ci; no install scripts run, and
# peer dependencies are skipped (only the packages' prebuilt bundles are served). The
# browser tests' own packages (axe-core, injected into pages under test, never served)
# come from $(BROWSER_TESTS)/package-lock.json the same way.
$(STAMP): pyproject.toml requirements.lock $(ASSETS)/package-lock.json $(BROWSER_TESTS)/package-lock.json
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	cd $(ASSETS) && npm ci --ignore-scripts --omit=peer --no-audit --no-fund --loglevel=error
	cd $(BROWSER_TESTS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Relaygate with its dev tools (from the lock files, pip and npm)

lock:  ## re-resolve requirements.lock from pyproject.toml (after changing a dependency)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url \
		-o requirements.lock pyproject.toml

run: $(STAMP)  ## start the gateway on 127.0.0.1:8080 (SQLite, in-process limits, echo model)
	$(BIN)/relaygate serve $(if $(CONFIG),--config $(CONFIG))

screenshots: $(STAMP)  ## the README's console pictures (docs/screenshots/*.png) from a demo gateway
	$(BIN)/python -m tests.browser.console_shots

test: $(STAMP) bench-tools  ## run the whole test suite (PostgreSQL, browser and replica tests included) with the coverage gate
	$(BIN)/pytest -q --cov=relaygate --cov-report=term:skip-covered $(PYTEST_ARGS)

check: lint types imports  ## ruff, mypy --strict and import-linter

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src

types: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

bench: $(STAMP) bench-tools  ## run the load benchmark (see docs/benchmarks.md)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-tools:  ## the load generator and the mock upstream's server, from Debian's packages
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
		(apt-get install -y wrk nginx >/dev/null 2>&1 || \
		 (apt-get update >/dev/null && apt-get install -y wrk nginx >/dev/null))

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(ASSETS)/node_modules $(BROWSER_TESTS)/node_modules test-artifacts
