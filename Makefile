# Two set-up commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench table clean firmware-test

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -m compileall -q imuwalk  # an editable install leaves the bytecode to the first import
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/imuwalk demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check imuwalk tests benchmarks examples

bench: $(STAMP)
	$(PY) -m pytest benchmarks -q --benchmark-only

table: $(STAMP)
	$(PY) -m benchmarks.make_table

clean:
	rm -rf $(VENV) build *.egg-info
