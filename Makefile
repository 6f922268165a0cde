# Two commands on a fresh clone (only python3 needed):
#   make demo   set up .venv and run storycoach on a throwaway demo bank
#   make test   set up .venv, run the lint gate (ruff, mypy --strict) and the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions of every dependency, used as pip constraints by demo, test and CI;
# `make lock` refreshes it (the newest versions pyproject.toml allows).
LOCK := requirements.lock

.PHONY: demo test lint bench docs lock clean

# compileall: precompile as a wheel install would; with PYTHONDONTWRITEBYTECODE set, every
# run would otherwise recompile storycoach's own source (~50 ms a command).
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
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
	$(BIN)/python -m storycoach.rubric.format_doc > rubrics/README.md

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# Resolve pyproject.toml afresh in a throwaway venv and pin what it installed.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Pins for pip install -c $(LOCK): written by 'make lock', do not edit."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .lock-venv .pytest_cache .ruff_cache .mypy_cache
