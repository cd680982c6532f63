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

# All three checks run even when one fails, so a CI log shows every problem at once; the
# first non-zero exit wins. pytest's exit 5 (nothing collected) counts as a failure too.
test: $(STAMP)
	@status=0; \
	$(VENV)/bin/pytest -q --durations=15 || status=$$?; \
	$(VENV)/bin/mypy --cache-dir $(VENV)/.mypy_cache || { [ $$status -ne 0 ] || status=1; }; \
	$(VENV)/bin/ruff check . || { [ $$status -ne 0 ] || status=1; }; \
	$(VENV)/bin/ruff format --check . || { [ $$status -ne 0 ] || status=1; }; \
	exit $$status

pytest: $(STAMP)
	$(VENV)/bin/pytest -q $(ARGS)

typecheck: $(STAMP)
	$(VENV)/bin/mypy

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python bench/bench.py $(ARGS)
