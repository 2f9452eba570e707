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

install: $(STAMP)

run: translations
	$(BIN)/jenjang db init
	@if ls workflows/*.bpmn workflows/*.dmn >/dev/null 2>&1; then \
	  $(BIN)/jenjang deploy workflows/; \
	else echo "workflows/ has no BPMN or DMN files yet: nothing to deploy"; fi
	$(BIN)/jenjang demo
	@echo
	@echo "Jenjang's database is ready, workflows/ is deployed and the demo agency exists."
	@echo "The web app comes with the web issue; meanwhile drive it with the CLI, e.g."
	@echo "  $(BIN)/jenjang processes"
	@echo "  $(BIN)/jenjang tasks --user atasan1"
	@echo "  $(BIN)/jenjang --help"

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
