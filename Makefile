# The few commands everyone runs. Each one sets up what it needs first, on a
# fresh Debian machine that has only python3 (and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-spark fuzz lint bench install node docs clean system-deps

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

# The main job: a starter workbook with two years of sample data, where it is,
# and its KPIs as the report refresh computes them from the workbook's tables.
demo: install
	$(BIN)/kpi new celebrity_video -o demo/celebrity_video_en.xlsx --as-of 2024-07-15 --force
	@echo
	$(BIN)/kpi report demo/celebrity_video_en.xlsx

# LibreOffice recalculates the starter workbooks in the tests. Their formulas
# use Excel 2021's dynamic-array functions (FILTER, UNIQUE, LET...), which
# LibreOffice computes from 24.8 on; Debian bookworm ships 7.4, so the 25.2 of
# bookworm-backports is installed, adding that package source when it is
# missing. poppler turns LibreOffice's PDFs into the README's pictures.
LIBREOFFICE_OK = command -v soffice >/dev/null && soffice --version | \
	awk '{ split($$2, v, "."); exit !(v[1] > 24 || (v[1] == 24 && v[2] >= 8)) }'
system-deps:
	@if ! { $(LIBREOFFICE_OK); }; then \
		. /etc/os-release; \
		if [ "$$VERSION_CODENAME" = bookworm ]; then \
			if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then \
				echo "Adding Debian's bookworm-backports package source for LibreOffice 25.2 (/etc/apt/sources.list.d/bookworm-backports.sources)"; \
				printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
					> /etc/apt/sources.list.d/bookworm-backports.sources; \
			fi; \
			echo "Installing LibreOffice from bookworm-backports: Debian's own 7.4 cannot compute the workbooks' dynamic-array formulas"; \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
				-t bookworm-backports libreoffice-calc-nogui; \
		else \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
				libreoffice-calc-nogui; \
		fi; \
		$(LIBREOFFICE_OK) || { echo "LibreOffice 24.8 or later is needed; found: $$(soffice --version)"; exit 1; }; \
	fi
	@command -v pdftoppm >/dev/null || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils; }
	@# Carlito has Calibri's metrics: LibreOffice renders the workbooks with it, and
	@# the column-width test measures every header and band text in it.
	@test -f /usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-crosextra-carlito; }
	@# nginx stands in front of several kpi serve instances in the scale-out
	@# tests and benchmark, which start it themselves from a folder of their own.
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx; }
	@# kpi report --source runs on a real PostgreSQL server in the tests, which
	@# start Debian's (initdb, pg_ctl) in a folder of their own on a unix socket.
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }
	@# Spark (pyspark, local mode) needs Java 17 for make test-spark and make bench.
	@command -v java >/dev/null || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless; }
	@# systemd-analyze checks the shipped systemd unit (deploy/kpi-serve@.service).
	@command -v systemd-analyze >/dev/null || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd; }
	@# Debian's headless Chromium, driven by Playwright (never `playwright install`),
	@# loads and prints the HTML report and renders the help pages in the tests,
	@# and draws the README's pictures and the add-in's icons.
	@command -v chromium >/dev/null || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

# The add-in's client test runs xlwings' Office.js JavaScript in Node; the
# xlwings Lite test runs kpi lite's files in Pyodide, the npm package that
# tests/node/package.json pins (npm ci installs it from package-lock.json).
NODE_MODULES := tests/node/node_modules/.package-lock.json
node: $(NODE_MODULES)
	@command -v node >/dev/null 2>&1 || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs; }

$(NODE_MODULES): tests/node/package.json tests/node/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; }
	cd tests/node && npm ci --no-audit --no-fund

# Spark's tests (the ibis forms on local[2], every KPI and type) take longer
# than make test's budget allows: make test-spark runs them.
test: install system-deps node
	$(BIN)/python -m pytest -m "not spark"

test-spark: install system-deps
	$(BIN)/python -m pytest -p no:cacheprovider -m spark tests/test_sources_engines.py

# Differential fuzzing at length: FUZZ_PER_TYPE messy workbooks of each business
# type, from a fresh seed (printed; make fuzz SEED=<seed> repeats a run).
# A workbook that disagrees is kept in fuzz-failures/.
# Then PACKAGE_FUZZ_EXAMPLES mutated packages (zip and XML level) from the same
# seed; one that makes kpi report or kpi refresh misbehave is kept in
# fuzz-failures/package-fuzz/ with a note of its mutations.
FUZZ_PER_TYPE ?= 200
PACKAGE_FUZZ_EXAMPLES ?= 400
SEED ?= $(shell $(PYTHON) -c 'import random; print(random.randrange(10**6))')
fuzz: install system-deps
	@echo "fuzz seed: $(SEED)  (make fuzz SEED=$(SEED) generates the same workbooks again)"
	KPI_FUZZ_SEED=$(SEED) KPI_FUZZ_PER_TYPE=$(FUZZ_PER_TYPE) \
		KPI_PACKAGE_FUZZ_EXAMPLES=$(PACKAGE_FUZZ_EXAMPLES) \
		$(BIN)/python -m pytest -p no:cacheprovider tests/test_differential.py \
		tests/test_package_fuzz.py
	@# Then Office.js-shaped bodies at a real kpi serve (SERVER_FUZZ_EXAMPLES of each kind).
	KPI_FUZZ_SEED=$(SEED) KPI_SERVER_FUZZ_EXAMPLES=$(or $(SERVER_FUZZ_EXAMPLES),3000) \
		$(BIN)/python -m pytest -p no:cacheprovider tests/test_server_fuzz.py
	@# Then every KPI function, called with arbitrary Python values (HOSTILE_EXAMPLES each).
	KPI_FUZZ_SEED=$(SEED) KPI_HOSTILE_EXAMPLES=$(or $(HOSTILE_EXAMPLES),2000) \
		$(BIN)/python -m pytest -p no:cacheprovider tests/test_engine_hostile.py -k every_kpi

lint: install
	$(BIN)/ruff check kpi_engine addin tests docs
	$(BIN)/ruff format --check kpi_engine addin tests docs
	$(BIN)/mypy

bench: install system-deps
	$(BIN)/python -u tests/benchmarks/bench_engine.py
	$(BIN)/python -u tests/benchmarks/bench_starter.py
	$(BIN)/python -u tests/benchmarks/bench_server.py
	$(BIN)/python -u tests/benchmarks/bench_lane.py
	$(BIN)/python -u tests/benchmarks/bench_scaleout.py
	$(BIN)/python -u tests/benchmarks/bench_report.py
	$(BIN)/python -u tests/benchmarks/bench_import.py
	$(BIN)/python -u tests/benchmarks/bench_recalc.py
	$(BIN)/python -u tests/benchmarks/bench_sources.py

docs: install system-deps
	$(BIN)/python -m kpi_engine._docs --write
	$(BIN)/python docs/make_pictures.py
	$(BIN)/python docs/make_html_pictures.py
	$(BIN)/python docs/make_taskpane_pictures.py

clean:
	rm -rf demo fuzz-failures $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache tests/node/node_modules
