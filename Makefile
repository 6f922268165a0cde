# Two commands on a fresh clone (only python3 needed):
#   make demo   set up .venv and run storycoach on a throwaway demo bank
#   make test   set up .venv, run the lint gate (ruff, mypy --strict) and the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs clean

# compileall: precompile as a wheel install would; with PYTHONDONTWRITEBYTECODE set, every
# run would otherwise recompile storycoach's own source (~50 ms a command).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python demo/run_demo.py

# The one test command (README, CI): the lint gate, then the whole suite.
test: lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/python -m storycoach.rubric.docs > docs/rubrics.md

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
