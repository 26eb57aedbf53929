# The few commands everyone runs. Each one sets up what it needs first, on a
# fresh Debian machine that has only python3 (and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-spark fuzz lint bench install node docs clean system-deps system-deps-plan dist

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
# It runs in a virtual environment of its own holding the package alone (what
# `pip install kpi-addin` installs), not the tests' tools: a few seconds to set up.
DEMO_VENV := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV) || { rm -rf $(DEMO_VENV); \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv && \
		$(PYTHON) -m venv $(DEMO_VENV); }
	$(DEMO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/kpi new celebrity_video -o demo/celebrity_video_en.xlsx --as-of 2024-07-15 --force
	@echo
	$(DEMO_VENV)/bin/kpi report demo/celebrity_video_en.xlsx

# The system packages the tests use, each with the check that finds it and why
# it is needed. make test prints this list first (system-deps-plan), saying
# which are there and which apt-get installs; system-deps then installs those.
#
# LibreOffice recalculates the starter workbooks in the tests. Their formulas
# use Excel 2021's dynamic-array functions (FILTER, UNIQUE, LET...), which
# LibreOffice computes from 24.8 on; Debian bookworm ships 7.4, so the 25.2 of
# bookworm-backports is installed, adding that package source when it is
# missing. poppler turns LibreOffice's PDFs into the docs' pictures.
LIBREOFFICE_OK = command -v soffice >/dev/null && soffice --version | \
	awk '{ split($$2, v, "."); exit !(v[1] > 24 || (v[1] == 24 && v[2] >= 8)) }'
POPPLER_OK = command -v pdftoppm >/dev/null
# Carlito has Calibri's metrics: LibreOffice renders the workbooks with it, and
# the column-width test measures every header and band text in it.
CARLITO_OK = test -f /usr/share/fonts/truetype/crosextra/Carlito-Regular.ttf
# nginx stands in front of several kpi serve instances in the scale-out
# tests and benchmark, which start it themselves from a folder of their own.
NGINX_OK = command -v nginx >/dev/null || test -x /usr/sbin/nginx
# kpi report --source runs on a real PostgreSQL server in the tests, which
# start Debian's (initdb, pg_ctl) in a folder of their own on a unix socket.
POSTGRES_OK = ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
# Spark (pyspark, local mode) needs Java 17: make test-spark, make bench, and the
# [spark] install line's test in make test, which checks that Java is there.
JAVA_OK = command -v java >/dev/null
# systemd-analyze checks the shipped systemd unit (deploy/kpi-serve@.service).
SYSTEMD_OK = command -v systemd-analyze >/dev/null
# Debian's headless Chromium, driven by Playwright (never `playwright install`),
# loads and prints the HTML report and renders the help pages in the tests,
# and draws the README's pictures and the add-in's icons.
CHROMIUM_OK = command -v chromium >/dev/null
# Debian ships venv's ensurepip in a separate package (see $(BIN)/python).
VENV_OK = $(PYTHON) -c "import ensurepip" 2>/dev/null
# Node.js runs xlwings' Office.js client and Pyodide (make node).
NODE_OK = command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1

# One line per package: whether it is there, or that apt-get will install it.
define plan_line
	@if { $(1); }; then echo "  $(2): installed ($(3))"; \
	else echo "  $(2): missing, make installs it with apt-get ($(3))"; fi
endef

system-deps-plan:
	@echo "make test uses these system packages (Debian's, installed as root with apt-get when missing):"
	$(call plan_line,$(VENV_OK),python3-venv,the virtual environment .venv)
	$(call plan_line,$(LIBREOFFICE_OK),LibreOffice 24.8 or later (libreoffice-calc-nogui; bookworm-backports on Debian 12),recalculates the workbooks' formulas)
	$(call plan_line,$(POPPLER_OK),poppler-utils,turns LibreOffice's PDFs into pictures)
	$(call plan_line,$(CARLITO_OK),fonts-crosextra-carlito,Calibri's metrics for rendering and column widths)
	$(call plan_line,$(NGINX_OK),nginx,in front of several kpi serve in the scale-out tests)
	$(call plan_line,$(POSTGRES_OK),postgresql,kpi report --source on a PostgreSQL server)
	$(call plan_line,$(JAVA_OK),openjdk-17-jre-headless,Spark for kpi report --source pyspark://)
	$(call plan_line,$(SYSTEMD_OK),systemd,systemd-analyze checks the shipped unit file)
	$(call plan_line,$(CHROMIUM_OK),chromium,the HTML report and the task pane in a real browser)
	$(call plan_line,$(NODE_OK),nodejs and npm,xlwings' Office.js client and Pyodide in the tests)

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
	@$(POPPLER_OK) || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils; }
	@$(CARLITO_OK) || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-crosextra-carlito; }
	@$(NGINX_OK) || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx; }
	@$(POSTGRES_OK) || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }
	@$(JAVA_OK) || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless; }
	@$(SYSTEMD_OK) || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd; }
	@# Debian's headless Chromium, driven by Playwright (never `playwright install`),
	@# loads and prints the HTML report and renders the help pages in the tests,
	@# and draws the docs' pictures and the add-in's icons.
	@$(CHROMIUM_OK) || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

# The add-in's client test runs xlwings' Office.js JavaScript in Node; the
# xlwings Lite test runs kpi lite's files in Pyodide, the npm package that
# tests/node/package.json pins (npm ci installs it from package-lock.json).
NODE_MODULES := tests/node/node_modules/.package-lock.json
node: $(NODE_MODULES)
	@$(NODE_OK) || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; }

$(NODE_MODULES): tests/node/package.json tests/node/package-lock.json
	@$(NODE_OK) || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; }
	cd tests/node && npm ci --no-audit --no-fund

# Spark's tests (the ibis forms on local[2], every KPI and type, month by
# month and all months at once, and the [spark] install line's kpi report on
# Spark) take longer than make test's budget allows: make test-spark runs them.
# First the list of system packages and what apt-get installs, then the rest.
test: system-deps-plan check system-deps node
	$(BIN)/python -m pytest -m "not spark"

test-spark: install system-deps
	$(BIN)/python -m pytest -p no:cacheprovider -m spark tests/test_sources_engines.py \
		tests/test_sources_months.py tests/test_release.py

# Differential fuzzing at length: FUZZ_PER_TYPE messy workbooks of each business
# type, from a fresh seed (printed; make fuzz SEED=<seed> repeats a run).
# A workbook that disagrees is kept in fuzz-failures/.
# Then PACKAGE_FUZZ_EXAMPLES mutated packages (zip and XML level) from the same
# seed; one that makes kpi report or kpi refresh misbehave is kept in
# fuzz-failures/package-fuzz/ with a note of its mutations.
FUZZ_PER_TYPE ?= 200
# Of those, how many also go through kpi report --source as Parquet and CSV (seconds each).
SOURCE_FUZZ_PER_TYPE ?= 40
# Of those, how many also go through kpi import as a CSV and an .xlsx export, each
# imported workbook recalculated by LibreOffice too.
IMPORT_FUZZ_PER_TYPE ?= 20
PACKAGE_FUZZ_EXAMPLES ?= 400
SEED ?= $(shell $(PYTHON) -c 'import random; print(random.randrange(10**6))')
fuzz: install system-deps
	@echo "fuzz seed: $(SEED)  (make fuzz SEED=$(SEED) generates the same workbooks again)"
	KPI_FUZZ_SEED=$(SEED) KPI_FUZZ_PER_TYPE=$(FUZZ_PER_TYPE) \
		KPI_FUZZ_SOURCE_PER_TYPE=$(SOURCE_FUZZ_PER_TYPE) \
		KPI_FUZZ_IMPORT_PER_TYPE=$(IMPORT_FUZZ_PER_TYPE) \
		KPI_PACKAGE_FUZZ_EXAMPLES=$(PACKAGE_FUZZ_EXAMPLES) \
		$(BIN)/python -m pytest -p no:cacheprovider tests/test_differential.py \
		tests/test_package_fuzz.py
	@# Then Office.js-shaped bodies at a real kpi serve (SERVER_FUZZ_EXAMPLES of each kind).
	KPI_FUZZ_SEED=$(SEED) KPI_SERVER_FUZZ_EXAMPLES=$(or $(SERVER_FUZZ_EXAMPLES),3000) \
		$(BIN)/python -m pytest -p no:cacheprovider tests/test_server_fuzz.py
	@# Then every KPI function, called with arbitrary Python values (HOSTILE_EXAMPLES each).
	KPI_FUZZ_SEED=$(SEED) KPI_HOSTILE_EXAMPLES=$(or $(HOSTILE_EXAMPLES),2000) \
		$(BIN)/python -m pytest -p no:cacheprovider tests/test_engine_hostile.py -k every_kpi

# Everything a release holds, into dist/: the wheel and the sdist (checked with
# twine and check-wheel-contents), and in dist/assets/ the starter workbooks,
# the xlwings Lite files and a sample report. Built from the checked-out commit,
# dated by it (SOURCE_DATE_EPOCH): the same commit gives the same bytes.
dist: install
	$(BIN)/python tools/make_dist.py --out dist

# The fast tier, in seconds: lint, types, and every registry and contract
# check (the test files that carry the fast marker, run in-process). A KPI
# added by halves is named here with each missing piece and where to add it.
.PHONY: check regen
FAST_TESTS = $(shell grep -l "pytest.mark.fast" tests/test_*.py)
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider -m fast $(FAST_TESTS)

# Every generated file, rewritten from the catalogue (no system packages):
# the docs' KPI tables, the signatures, the starter workbooks' structure
# and the custom-functions metadata. Review the diff after.
regen: install
	$(BIN)/python -m kpi_engine._docs --write
	$(BIN)/python -m tests.completeness
	$(BIN)/python -m tests.snapshots.structure --write
	XLWINGS_LICENSE_KEY=noncommercial KPI_UPDATE_SNAPSHOT=1 $(BIN)/python -m pytest -q \
		-p no:cacheprovider tests/test_custom_functions_snapshot.py

lint: install
	$(BIN)/ruff check kpi_engine addin tests docs tools
	$(BIN)/ruff format --check kpi_engine addin tests docs tools
	$(BIN)/mypy

# Every benchmark runs, even after one misses its goal (exit 1); the list of
# those that missed or broke comes last, and make bench then fails.
BENCHMARKS = bench_engine.py \
	bench_starter.py \
	bench_server.py \
	bench_calls.py \
	bench_lane.py \
	bench_scaleout.py \
	bench_report.py \
	bench_refresh_orders.py \
	bench_import.py \
	bench_recalc.py \
	bench_recalc_kpis.py \
	bench_sources.py \
	bench_source_query.py \
	bench_taskpane_refresh.py

bench: install system-deps
	@missed=""; for script in $(BENCHMARKS); do \
		echo "== $$script"; \
		$(BIN)/python -u tests/benchmarks/$$script || missed="$$missed $$script($$?)"; \
	done; \
	if [ -n "$$missed" ]; then echo "goals missed or runs broken (exit status):$$missed"; exit 1; fi

docs: install system-deps
	$(BIN)/python -m kpi_engine._docs --write
	$(BIN)/python docs/make_pictures.py
	$(BIN)/python docs/make_html_pictures.py
	$(BIN)/python docs/make_taskpane_pictures.py
	@# The docs site, into site/: English at the top, French in site/fr/, Dutch in site/nl/
	@# (make test builds it too, in a temporary folder).
	$(BIN)/mkdocs build --strict

clean:
	rm -rf demo fuzz-failures $(VENV) $(DEMO_VENV) build dist site .pytest_cache .mypy_cache .ruff_cache tests/node/node_modules
