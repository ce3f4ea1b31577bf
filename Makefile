# modelport — two commands set everything up on a fresh machine:
#   make run    install into .venv, prepare the bundled model(s), start serving, print the URL
#   make test   install, then run the whole test suite
# Everything else here is a helper for those two (and `make bench`).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

# pipefail: a failing install must fail the target even when its output is filtered.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: run test install bench clean help

help:
	@echo "make run    - install everything into .venv and start modelport (prints the URL)"
	@echo "make test   - install everything, then run the whole test suite"
	@echo "make bench  - measure modelport against peer servers (see bench/README.md)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Pinned dependencies first (requirements.lock), then modelport itself in editable mode.
$(STAMP): $(PY) pyproject.toml requirements.lock
	$(PIP) install --quiet --upgrade pip 2>&1 | sed "/is ignored: it is neither/d"
	$(PIP) install --quiet -r requirements.lock 2>&1 | sed "/is ignored: it is neither/d"
	$(PIP) install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/modelport up

test: install
	$(VENV)/bin/python -m pytest

bench: install
	$(MAKE) -C bench all

clean:
	rm -rf $(VENV) .modelport
