# Quick start: `make demo` (install and run), `make test` (install test deps and run tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Editable installs put the checkout on sys.path through a .pth file ("compat"
# mode), which mypy and pyright read; setuptools' default mode is an import
# hook that type checkers cannot see. Grammars and templates load from the checkout.
EDITABLE := --config-settings editable_mode=compat

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pytest: the projects `volo init` writes come with tests.
# `volo --version` names the codec, and warns when the compiled one was not built.
$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py Makefile
	$(BIN)/pip install --quiet $(EDITABLE) -e ".[fast]" pytest
	$(BIN)/volo --version
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet $(EDITABLE) -e ".[fast,test]"
	touch $@

demo: $(VENV)/.installed
	VENV_BIN=$(abspath $(BIN)) scripts/demo.sh

lint: $(VENV)/.test-installed
	$(BIN)/ruff check pilota volo volo_cli tests bench
	$(BIN)/mypy --strict pilota volo volo_cli

test: lint
	$(BIN)/pytest

# Each script runs what it can; inputs from ../shared are skipped, and said so.
# bench/codec.py needs Apache's thrift compiler: without it, it says so and the rest run.
bench: $(VENV)/.test-installed
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/codec.py || echo "skipped bench/codec.py (the reason is above)"
	$(BIN)/python bench/rpc.py
	$(BIN)/python bench/grpc.py || echo "skipped bench/grpc.py (the reason is above)"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
