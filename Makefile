# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INDEX_DIR ?= data/index
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test install install-dev index lint typecheck pytest browser bench bench-peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first: 2.13.0 is a local CPU build; anything else would pull a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
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
	$(BIN)/mypy citeqa indexer service eval

browser:
	bash scripts/install-browser.sh

pytest: install-dev browser
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

bench: index
	$(BIN)/python -m eval.bench.index_throughput
	$(BIN)/python -m eval.bench.query_latency --index-dir $(INDEX_DIR)

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
	$(PEERS)/bin/pip install --quiet txtai==9.14.0 haystack-ai==2.31.0 \
		"sentence-transformers>=3.0" faiss-cpu psutil
	touch $@

bench-peers: install $(PEERS_STAMP)
	$(BIN)/python -m eval.bench.peers --peers-python $(PEERS)/bin/python
