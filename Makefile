# rollcall: `make` lists the targets; `make run` starts it on its embedded database; `make test`
# runs every check; `make faults` runs the fault drill; `make deploy-test` runs compose.yaml with
# podman. Each target bootstraps .venv on first use and is safe to run again.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test slow faults deploy-test lint bench clean

# The test and bench extras both: mypy checks bench/ too, so it needs the bench's packages.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

help: ## list the targets and what each does
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: $(STAMP) ## start rollcall on HOST:PORT (default 127.0.0.1:8000), a process per core, with its embedded PostgreSQL
	$(BIN)/rollcall serve --host $(HOST) --port $(PORT)

test: $(STAMP) ## lint, then every test (API, realtime, Chromium) on embedded and external PostgreSQL
	bash scripts/test

slow: $(STAMP) ## the slow drills (a thousand phones, soaks, outages) on the embedded PostgreSQL
	env -u ROLLCALL_TEST_DATABASE_URL -u DATABASE_URL $(BIN)/pytest -m "slow and not e2e and not faults"
	# browser drills in a process of their own (Playwright's loop); pytest's 5 is "none marked"
	env -u ROLLCALL_TEST_DATABASE_URL -u DATABASE_URL $(BIN)/pytest -m "slow and e2e" || test $$? -eq 5

faults: $(STAMP) ## the fault drill: PostgreSQL restarted, connections exhausted, a process killed, a slow crowd
	env -u ROLLCALL_TEST_DATABASE_URL -u DATABASE_URL $(BIN)/pytest -m faults tests/faults

deploy-test: $(STAMP) ## build the image, run compose.yaml with podman, a phone through Caddy over a restart
	bash scripts/install-podman
	env -u ROLLCALL_TEST_DATABASE_URL -u DATABASE_URL $(BIN)/pytest -m deploy -s tests/deploy

lint: $(STAMP) ## ruff, mypy (rollcall and bench) and squawk on the migrations' SQL
	bash scripts/lint

bench: $(STAMP) ## every benchmark on loopback, 7-9 minutes (docs/benchmarks.md)
	bash scripts/install-wrk
	$(BIN)/python -m bench all

clean: ## remove .venv, the tools' caches and artifacts/
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts node_modules
