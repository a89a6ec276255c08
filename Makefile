# Two commands (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean-venv

$(BIN)/.spikefit-installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "spikefit needs Python >= 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.spikefit-installed
	$(BIN)/spikefit demo
	$(BIN)/spikefit run jobs/quickstart.toml --overwrite   # the demo's own folder: a rerun after an upgrade replaces it

test: $(BIN)/.spikefit-installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.spikefit-installed
	$(BIN)/python bench/simulate.py

clean-venv:
	rm -rf $(VENV)
