# The few commands everyone runs. Each one sets up what it needs first, on a
# fresh Debian machine that has only python3 (and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install node docs clean system-deps

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

# The main job: a starter workbook with a year of sample data, where it is,
# and its KPIs as the report refresh computes them from the workbook's tables.
demo: install
	$(BIN)/kpi new celebrity_video -o demo/celebrity_video_en.xlsx --as-of 2024-07-15 --force
	@echo
	$(BIN)/kpi report demo/celebrity_video_en.xlsx

# LibreOffice recalculates the starter workbooks in the tests; poppler turns
# its PDFs into the README's picture.
system-deps:
	@command -v soffice >/dev/null && command -v pdftoppm >/dev/null || { \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			libreoffice-calc-nogui poppler-utils; }

# The add-in's client test runs xlwings' Office.js JavaScript in Node.
node:
	@command -v node >/dev/null 2>&1 || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs; }

test: install system-deps node
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check kpi_engine addin tests docs
	$(BIN)/ruff format --check kpi_engine addin tests docs
	$(BIN)/mypy

bench: install system-deps
	$(BIN)/python -u tests/benchmarks/bench_engine.py
	$(BIN)/python -u tests/benchmarks/bench_starter.py
	$(BIN)/python -u tests/benchmarks/bench_server.py
	$(BIN)/python -u tests/benchmarks/bench_report.py
	$(BIN)/python -u tests/benchmarks/bench_recalc.py

docs: install system-deps
	$(BIN)/python -m kpi_engine._docs --write
	$(BIN)/python docs/make_picture.py

clean:
	rm -rf demo $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
