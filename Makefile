# The README's two commands: `make run` and `make test`. Both set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: install run chat ingest test test-faketime lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU build of torch, pinned: an unpinned torch pulls several GB of CUDA packages.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Ingest the configured sources (the bundled sample by default), then start the bot:
## Slack or Teams when their credentials are set, a terminal chat otherwise.
run: install
	$(PY) ingest.py
	$(PY) -m bot

ingest: install
	$(PY) ingest.py

test: install lint
	$(PY) -m pytest

## ruff (rules in pyproject.toml) and mypy over knowledge/, bot/ and ingest.py: both must be clean.
lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

## The suite again at a far date, the clock running (Debian package faketime): nothing may depend on today.
FAKETIME_AT ?= @2027-06-15 09:00:00
test-faketime: install
	faketime -f '$(FAKETIME_AT)' $(PY) -m pytest

bench: install
	$(PY) bench/ingest_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache
