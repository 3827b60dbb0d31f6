# rollcall: `make run` starts it on its embedded database; `make test` runs every check;
# `make faults` runs the fault drill (PostgreSQL restarted, connections exhausted, a process killed).
# Both bootstrap .venv on first use and are safe to run again.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test faults lint unit browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/rollcall serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	bash scripts/test

faults: $(STAMP)
	env -u ROLLCALL_TEST_DATABASE_URL -u DATABASE_URL $(BIN)/pytest -m faults tests/faults

lint: $(STAMP)
	bash scripts/lint

bench: $(STAMP)
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
