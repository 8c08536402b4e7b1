# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INDEX_DIR ?= data/index
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-fast install install-dev index lint typecheck pytest pytest-fast browser bench bench-peers clean docker-smoke

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, so `pip install -e .` keeps it. From PyPI, pip gets the CUDA build (about
# 4.6 GB with its NVIDIA libraries and triton); the CPU build (about 0.75 GB) comes with
# `make run TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu`. This project's machines
# carry a local CPU wheel that their pip configuration finds by itself.
TORCH_INDEX_URL ?=
# setuptools warns on every editable install that folders named like the packages may be
# imported instead: here they are the packages, and "!! BuildBackendWarning" reads as an error
# to a new user.
EDITABLE := PYTHONWARNINGS="ignore:Editable installation"
# Without --quiet: these are the big downloads, and pip's progress shows they are moving.
$(STAMP): $(BIN)/python pyproject.toml
	@echo "make install: torch 2.13.0 first: about 4.6 GB from PyPI (CUDA build with its NVIDIA libraries), about 0.75 GB with TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu, then citeqa and its dependencies"
	$(BIN)/pip install --progress-bar on torch==2.13.0 $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(EDITABLE) $(BIN)/pip install --progress-bar on -e .
	touch $@

# The ray extra too, so that `make test` runs the slow Ray tests (tests/ray); `make run`
# installs neither.
$(DEV_STAMP): $(STAMP)
	$(EDITABLE) $(BIN)/pip install --quiet -e '.[dev,ray]'
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

index: install
	@if [ ! -f $(INDEX_DIR)/CURRENT ]; then \
		$(BIN)/citeqa index build --source seeds --index-dir $(INDEX_DIR); \
	fi

run: index
	CITEQA_INDEX_DIR=$(INDEX_DIR) $(BIN)/citeqa serve

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy citeqa indexer service eval training tests

browser:
	bash scripts/install-browser.sh

pytest: install-dev browser
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

# Everything but the `slow` and `browser` tests (and no Chromium install): a few minutes.
pytest-fast: install-dev
	$(BIN)/python -m pytest -q -m "not slow and not browser"

test-fast: lint typecheck pytest-fast

bench: index
	$(BIN)/python -m eval.bench.index_throughput
	$(BIN)/python -m eval.bench.query_latency --index-dir $(INDEX_DIR)

# Builds the Docker image and tries it as a user would (minutes; not part of `make test`).
docker-smoke:
	bash scripts/docker-smoke.sh

clean:
	rm -rf $(VENV) $(PEERS) data .mypy_cache .ruff_cache .pytest_cache

# The peers compared by `python -m eval.bench.peers` live in their own environment, never in
# citeqa's dependencies. torch first, as above. citeqa itself runs from $(VENV).
PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed
$(PEERS_STAMP):
	$(PYTHON) -m venv $(PEERS) || python3 -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet --upgrade pip
	$(PEERS)/bin/pip install --quiet torch==2.13.0
	$(PEERS)/bin/pip install --quiet "txtai[api]==9.14.0" haystack-ai==2.31.0 \
		"sentence-transformers>=3.0" faiss-cpu psutil
	touch $@

bench-peers: install $(PEERS_STAMP)
	$(BIN)/python -m eval.bench.peers --peers-python $(PEERS)/bin/python
