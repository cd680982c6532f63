# make serve   - run a local server (SQLite under ./data); ARGS="--port 9001" passes flags
# make test    - the whole suite: pytest (unit, contract, e2e, cassandra), mypy, ruff
# The install step runs again only when pyproject.toml changes (stamp file in the venv).

PYTHON ?= python3
VENV   ?= .venv
STAMP  := $(VENV)/.s3front-installed
ARGS   ?=

.PHONY: install serve test pytest typecheck lint bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/s3front serve $(ARGS)

# pytest exits 5 when it collects nothing; like every non-zero exit, make fails on it.
test: $(STAMP)
	$(VENV)/bin/pytest -q
	$(VENV)/bin/mypy
	$(VENV)/bin/ruff check .

pytest: $(STAMP)
	$(VENV)/bin/pytest -q $(ARGS)

typecheck: $(STAMP)
	$(VENV)/bin/mypy

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python bench/bench.py $(ARGS)
