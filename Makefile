# cocreate — the two commands: `make run` and `make test`. Either works first on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint setup deps frontend translations static fmt clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

deps: $(VENV)/.installed

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

frontend: node_modules/.package-lock.json

translations: deps
	$(PY) manage.py compile_translations -v 0

static: deps frontend translations
	$(PY) manage.py collectstatic --noinput -v 0

setup: static
	$(PY) manage.py migrate --noinput -v 0

run: setup
	$(PY) manage.py demo --if-empty
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

test: deps frontend translations
	$(PY) -m pytest $(PYTEST_ARGS)

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy cocreate bench
	@# Security linter: no finding of medium or high severity (tests excluded; bench URLs are 127.0.0.1).
	$(VENV)/bin/bandit -q -r cocreate bench -x '*/tests/*' --severity-level medium 2> >(grep -v WARNING >&2)
	$(PY) manage.py makemigrations --check --dry-run

fmt: deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf staticfiles .pytest_cache .mypy_cache .ruff_cache
