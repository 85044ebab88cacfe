# Growr node: the two quick-start commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Parallel test workers (pytest-xdist): a number, or auto for one per core (conftest.py caps it).
TEST_WORKERS ?= auto

.PHONY: run test lint format bench migrate seed demo demo-scenario install install-dev clean

# The node names itself (e-mails, pages, the demo logins) by the address it serves, unless told.
run seed: export GROWR_PUBLIC_URL ?= http://$(HOST):$(PORT)

run: install migrate seed  ## set up and run the node (web, worker, beat) on http://$(HOST):$(PORT)
	$(BIN)/python manage.py runnode --host $(HOST) --port $(PORT)

test: install-dev  ## set up and run the whole test suite: lint, format check, pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

lint: install-dev
	$(BIN)/ruff check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev  ## run every benchmark in bench/ (never part of the tests)
	@set -e; for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script; done

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: install
	$(BIN)/python manage.py seed_demo

demo: install  ## a three-node network on loopback (originators A and B, investor node C); Ctrl-C stops it
	$(BIN)/python manage.py demo_network

demo-scenario: install  ## the scripted journey across a fresh three-node network; fails if a step does
	$(BIN)/python manage.py demo_scenario

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' || \
		{ echo "Growr node needs Python 3.11 or 3.12: didkit has no wheels for newer ones (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache .ruff_cache
