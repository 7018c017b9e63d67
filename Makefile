# Two commands matter: `make serve` (start sealbox on 127.0.0.1:9000) and `make test` (every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test install install-test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -e .

$(STAMP): pyproject.toml $(BIN)/python
	$(BIN)/pip install -e '.[test,bench]'
	touch $(STAMP)

install-test: $(STAMP)
	bash scripts/install-test-deps.sh

serve: install
	$(BIN)/sealbox serve $(ARGS)

test: install-test lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	bash scripts/install-bench-deps.sh
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Types and lint gate every test run: mypy --strict over the package, plain mypy over the tests.
lint: $(STAMP)
	$(BIN)/ruff check sealbox tests bench
	$(BIN)/mypy --strict sealbox
	$(BIN)/mypy tests

clean:
	rm -rf $(VENV) build *.egg-info
