# Two commands set everything up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
NODE_STAMP := node_modules/.installed

.PHONY: demo console test lint typecheck pytest bench mutation clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

# From npm: MapLibre GL JS (the console's basemap, served from node_modules) and axe-core (the
# console's accessibility test); nothing committed. `make console` installs them alone.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $(NODE_STAMP)

demo: $(STAMP)
	$(PY) -m planner.demo

console: $(STAMP) $(NODE_STAMP)

lint: $(DEV_STAMP)
	$(PY) -m ruff check planner api tests bench
	$(PY) -m ruff format --check planner api tests bench
	$(VENV)/bin/lint-imports

typecheck: $(DEV_STAMP)
	$(PY) -m mypy

pytest: $(DEV_STAMP) $(NODE_STAMP)
	$(PY) -m pytest

test: lint typecheck pytest

bench: $(DEV_STAMP)
	$(PY) -m bench

# Mutation testing of the core modules (slow; not part of make test): MODULES="metrics chain"
# runs only those, MUTATION_TIMEOUT_S bounds each module's run. Report in .mutation/report.md.
mutation: $(DEV_STAMP)
	$(PY) -m bench.mutation $(MODULES)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .mutation mutants
