# The two commands: `make run` and `make test`. Both set up .venv on their own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test lint typecheck pytest bench-engine bench bench-quick clean install translations vendor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Translation catalogues (Bahasa Indonesia by default, English one setting away).
translations: $(STAMP)
	$(BIN)/pybabel -q compile -d forms/translations -D jenjang
	$(BIN)/pybabel -q compile -d webui/translations

install: $(STAMP)

# Browser libraries (bpmn-js, its properties panel, dmn-js) as prebuilt UMD bundles:
# npm installs the exact pins of webui/package-lock.json, the dist files are copied
# into the git-ignored webui/static/vendor/. The stamp makes a second run instant.
VENDOR := webui/static/vendor
VENDOR_STAMP := $(VENDOR)/.installed-$(shell cat webui/package-lock.json | sha256sum | cut -c1-12)

$(VENDOR_STAMP): webui/package.json webui/package-lock.json
	npm ci --prefix webui --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/bpmn-js $(VENDOR)/bpmn-js-properties-panel $(VENDOR)/properties-panel $(VENDOR)/dmn-js
	cp -r webui/node_modules/bpmn-js/dist/assets webui/node_modules/bpmn-js/dist/*.production.min.js $(VENDOR)/bpmn-js/
	cp webui/node_modules/bpmn-js-properties-panel/dist/bpmn-js-properties-panel.umd.js $(VENDOR)/bpmn-js-properties-panel/
	cp webui/node_modules/@bpmn-io/properties-panel/dist/assets/properties-panel.css $(VENDOR)/properties-panel/
	cp -r webui/node_modules/dmn-js/dist/assets webui/node_modules/dmn-js/dist/*.production.min.js $(VENDOR)/dmn-js/
	touch $(VENDOR_STAMP)

vendor: $(VENDOR_STAMP)

run: translations vendor
	$(BIN)/jenjang db init
	@if ls workflows/*.bpmn workflows/*.dmn >/dev/null 2>&1; then \
	  $(BIN)/jenjang deploy workflows/; \
	else echo "workflows/ has no BPMN or DMN files yet: nothing to deploy"; fi
	$(BIN)/jenjang libur impor workflows/hari_libur.csv
	$(BIN)/jenjang demo
	@echo
	@echo "Jenjang is ready: open http://127.0.0.1:5000/ and log in as one of"
	@echo "  ppk1 atasan1 pegawai1 pegawai2 pegawai3 mentor1 verifikator1 panitia1"
	@echo "  admin1 pemilik1 pelamar1 pelamar2 pelamar3"
	@echo "with the password $${JENJANG_DEMO_PASSWORD:-jenjang-demo}."
	@echo "A worker fires timers and sends email beside it. Ctrl+C stops both."
	$(BIN)/jenjang run --host 127.0.0.1 --port 5000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: translations vendor
	$(BIN)/pytest

test: lint typecheck pytest

bench-engine: $(STAMP)
	$(BIN)/python bench/engine_step.py -n 300 --record

# The benchmark suite (docs/benchmarks.md), never part of `make test`. The full run needs a
# throwaway PostgreSQL database (every bench drops and recreates its schema) and takes about
# a quarter of an hour on 2 cores; `make bench-quick` is a smoke run on SQLite files in about a minute.
BENCH_URL ?=
BENCH_STAMP := $(VENV)/.bench-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	rm -f $(VENV)/.bench-*
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@test -n "$(BENCH_URL)" || { echo "make bench needs BENCH_URL=postgresql+psycopg://USER@HOST/DB (a throwaway database)"; exit 2; }
	$(BIN)/python bench/engine_step.py -n 300 --record
	$(BIN)/python bench/scale.py --url "$(BENCH_URL)" --reset --record
	$(BIN)/python bench/storage.py --url "$(BENCH_URL)" --reset --record
	$(BIN)/python bench/engine_step.py -n 300 --url "$(BENCH_URL)" --reset --record
	$(BIN)/python bench/http_load.py --url "$(BENCH_URL)" --reset --record
	$(BIN)/python bench/http_load.py --url "$(BENCH_URL)" --reset --applications 40000 --share 1.0 --duration 30 --record
	$(BIN)/python bench/reports.py --url "$(BENCH_URL)" --reset --record

bench-quick: $(BENCH_STAMP)
	$(BIN)/python bench/engine_step.py --quick
	$(BIN)/python bench/scale.py --quick
	$(BIN)/python bench/http_load.py --quick
	@if [ -n "$(BENCH_URL)" ]; then $(BIN)/python bench/storage.py --url "$(BENCH_URL)" --reset --quick; \
	  else echo "bench/storage.py skipped: it needs BENCH_URL (PostgreSQL)"; fi

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache webui/node_modules $(VENDOR)
