# The few commands everyone runs. Each one sets up what it needs first, on a
# fresh Debian machine that has only python3 (and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install node docs clean

$(BIN)/python:
	@# Debian ships venv's ensurepip in a separate package; install it when missing.
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv && \
		$(PYTHON) -m venv $(VENV); }

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/kpi types
	@echo
	$(BIN)/kpi list --type celebrity_video
	@echo
	$(BIN)/kpi calc churn_rate 50 1000

# The add-in's client test runs xlwings' Office.js JavaScript in Node.
node:
	@command -v node >/dev/null 2>&1 || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs; }

test: install node
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check kpi_engine addin tests
	$(BIN)/ruff format --check kpi_engine addin tests
	$(BIN)/mypy

bench: install
	$(BIN)/python tests/benchmarks/bench_engine.py
	$(BIN)/python tests/benchmarks/bench_server.py

docs: install
	$(BIN)/python -m kpi_engine._docs --write

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
