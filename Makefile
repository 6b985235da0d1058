# The two commands of the README. Both create (or reuse) .venv on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --editable '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# Development server: http://127.0.0.1:8080, SQLite under instance/, authentication OFF.
run: $(STAMP)
	@echo "*** DEVELOPMENT MODE: authentication is OFF. Do not expose this server. ***" >&2
	CDS_AUTH=off $(BIN)/cds-hooks serve --host 127.0.0.1 --port 8080

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) instance .pytest_cache
