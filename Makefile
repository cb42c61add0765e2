# Quick start:  make train   (trains on the embedded digits dataset)
#               make test    (the whole test suite)
# PYTHON=/path/to/python uses an existing interpreter/environment instead of .venv.
# WORKERS=4 runs the tests in 4 processes (pytest-xdist; default 2, one test file each).

VENV ?= .venv
WORKERS ?= 2
PARALLEL := -n $(WORKERS) --dist loadscope
ifdef PYTHON
  PY := $(PYTHON)
  STAMP := .installed-$(subst /,_,$(PYTHON))
else
  PY := $(VENV)/bin/python
  STAMP := $(VENV)/.installed
endif

.PHONY: install train test test-fast lint format runs components clean help

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml $(if $(PYTHON),,$(VENV)/bin/python)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements-dev.txt
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

install: $(STAMP)  ## Create .venv (unless PYTHON is set) and install the requirements

train: $(STAMP)  ## Train SimpleNet on the embedded digits dataset (CPU, seconds)
	$(PY) src/main.py fit -c configs/data/digits.yaml -c configs/model/simplenet.yaml --test_after_fit true

test: $(STAMP)  ## Run the whole test suite, slow end-to-end tests included
	$(PY) -m pytest $(PARALLEL)

test-fast: $(STAMP)  ## Run the suite without the tests marked slow
	$(PY) -m pytest -m "not slow" $(PARALLEL)

lint: $(STAMP)  ## Check formatting and lint with ruff
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: $(STAMP)  ## Format and auto-fix with ruff
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

runs: $(STAMP)  ## Table of an experiment's runs: make runs [EXP=logs/<name>] (default: newest)
	$(PY) src/compare.py $(EXP)

components: $(STAMP)  ## List the shipped configs and the classes each config slot can name
	$(PY) scripts/list_components.py

clean:  ## Remove caches (keeps .venv, data/ and logs/)
	rm -rf .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
