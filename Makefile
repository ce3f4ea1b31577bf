# modelport — two commands set everything up on a fresh machine:
#   make run    install into .venv and page/node_modules, build the page, train the bundled models
#               if missing, start hosting + gateway + page (modelport up), print the URL
#   make test   install everything, then run the whole test suite (page unit tests + pytest; it builds the
#               wheel and installs it into a fresh venv, tests/test_package_install.py)
# Everything else here is a helper for those two (and `make bench`).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
PAGE_DEPS := page/node_modules/.package-lock.json
# pytest-xdist workers for `make test`: most tests wait on servers and training processes, so two workers
# keep CI's two cores busy (TEST_WORKERS=0 runs everything in one process); the tests marked `alone` (a soak
# whose p99 must hold steady) run afterwards in a run of their own, so nothing else competes for the cores
TEST_WORKERS ?= 2

# pipefail: a failing install must fail the target even when its output is filtered.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: run test install wheel sdk-venvs page-build node chromium wrk bench clean help

help:
	@echo "make run    - install everything, build the page, start modelport (prints the URL)"
	@echo "make test   - install everything, then run the whole test suite"
	@echo "make bench  - measure modelport against peer servers (see bench/README.md)"
	@echo "make wheel  - build the page, then the sdist and the wheel (with the page inside) into dist/"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Pinned dependencies first (requirements.lock), then modelport itself in editable mode.
$(STAMP): $(PY) pyproject.toml requirements.lock
	$(PIP) install --quiet --upgrade pip 2>&1 | sed "/is ignored: it is neither/d"
	$(PIP) install --quiet -r requirements.lock 2>&1 | sed "/is ignored: it is neither/d"
	$(PIP) install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The SageMaker Python SDK lines (and the AWS CLI) pin boto3, attrs and packaging differently from
# modelport, so each gets its own virtual environment from its lock file, rebuilt only when the lock
# changes. The tests run the unmodified SDKs in them against hosting.
SDK_VENVS := .venv-sdk-v2 .venv-sdk-v3

.venv-sdk-%/.installed: tests/sdk/%.lock
	rm -rf .venv-sdk-$*
	$(PYTHON) -m venv .venv-sdk-$*
	.venv-sdk-$*/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r $< 2>&1 | sed "/is ignored: it is neither/d"
	.venv-sdk-$*/bin/python -m pip check --disable-pip-version-check
	touch $@

sdk-venvs: $(addsuffix /.installed,$(SDK_VENVS))

node:
	@command -v npm >/dev/null 2>&1 || { echo "The page needs Node.js 20 and npm: install them (Debian: apt-get install -y nodejs npm) and run make again."; exit 1; }

$(PAGE_DEPS): page/package.json page/package-lock.json | node
	npm --prefix page ci --no-audit --no-fund

page-build: $(PAGE_DEPS)
	npm --prefix page run build

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "The browser tests need Debian's chromium at /usr/bin/chromium: run 'sudo apt-get install -y chromium'"; exit 1; fi; fi

# The load generator of the soak test (and of `make bench`).
wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
	  else echo "The soak test needs wrk: run 'sudo apt-get install -y wrk'"; exit 1; fi; fi

# The wheel carries the built page (setup.py copies page/dist into it and refuses a missing or stale one).
wheel: install page-build
	$(PY) -m build --outdir dist .

run: install page-build
	$(VENV)/bin/modelport up

test: install sdk-venvs page-build chromium wrk
	npm --prefix page test
	status=0; \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not alone" || status=$$?; \
	$(PY) -m pytest -m alone || status=$$?; \
	exit $$status

bench: install
	$(MAKE) -C bench all

clean:
	rm -rf $(VENV) $(SDK_VENVS) .modelport page/node_modules page/dist dist build src/modelport.egg-info
