# sumexp: `make run` and `make test` set everything up on a fresh machine (Python 3.10+ with pip).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; on a GPU machine pass e.g. TORCH="torch==2.13.0" from your CUDA index,
# or install torch into $(VENV) first (an installed torch in the pinned range is kept).
TORCH ?= torch==2.13.0
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install install-dev run test bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed ## Create .venv (if missing) and install sumexp into it

install-dev: $(VENV)/.installed-dev ## install, plus the test dependencies

run: install ## Run the embedded default experiment (extra Hydra overrides: make run ARGS="model=tiny_t5")
	$(PY) -m sumexp $(ARGS)

test: install-dev ## Run the test suite
	$(PY) -m pytest -q

bench: install-dev ## Run every CPU benchmark in bench/, and bench/backends.py on a GPU (docs/PERFORMANCE.md)
	@status=0; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || status=1; done; \
	if [ -f bench/backends.py ]; then \
	  if $(PY) -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
	    echo "== bench/backends.py"; $(PY) bench/backends.py || status=1; \
	  else echo "== bench/backends.py: skipped, it needs a GPU (CPU check: $(PY) bench/backends.py --device cpu --tiny)"; fi; \
	fi; exit $$status

clean: ## Remove the virtual environment and caches (keeps outputs/ and multirun/)
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
