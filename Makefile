# Two set-up commands for a new machine (see README):
#   make demo   -> local virtual environment, install, run the demo study
#   make test   -> local virtual environment with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= cohortbench-demo

.PHONY: demo demo-quick test test-slow bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/cohortbench demo --out $(OUT)

demo-quick: $(VENV)/.installed
	$(BIN)/cohortbench demo --quick --out $(OUT)-quick

test: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(VENV)/.installed
	$(BIN)/python -m pytest -m slow -q

clean:
	rm -rf $(VENV) $(OUT) $(OUT)-quick
