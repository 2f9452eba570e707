# The two commands: `make run` and `make test`. Both set up .venv on their own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test lint typecheck pytest bench-engine clean install translations

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

run: translations
	$(BIN)/jenjang db init
	@if ls workflows/*.bpmn workflows/*.dmn >/dev/null 2>&1; then \
	  $(BIN)/jenjang deploy workflows/; \
	else echo "workflows/ has no BPMN or DMN files yet: nothing to deploy"; fi
	$(BIN)/jenjang demo
	@echo
	@echo "Jenjang is ready: open http://127.0.0.1:5000/ and log in as one of"
	@echo "  ppk1 atasan1 pegawai1 pegawai2 pegawai3 mentor1 verifikator1 panitia1"
	@echo "  admin1 pemilik1 pelamar1 pelamar2 pelamar3"
	@echo "with the password $${JENJANG_DEMO_PASSWORD:-jenjang-demo}. Ctrl+C stops the server."
	$(BIN)/jenjang serve --host 127.0.0.1 --port 5000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: translations
	$(BIN)/pytest

test: lint typecheck pytest

bench-engine: $(STAMP)
	$(BIN)/python bench/engine_step.py -n 300 --record

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
