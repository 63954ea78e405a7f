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
.PHONY: help install install-dev install-unsloth run test bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

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

# unsloth's CPU path needs the CPU torch kept and no torchvision: a plain install of unsloth pulls
# CUDA builds of both, and its import then fails. Pinning the installed torch keeps it.
$(VENV)/.installed-unsloth: $(VENV)/.installed-dev
	$(PY) -c "import torch; print('torch==' + torch.__version__.split('+')[0])" > $(VENV)/torch-pin.txt
	$(PY) -m pip install -q -c $(VENV)/torch-pin.txt -e ".[dev,unsloth]"
	$(PY) -m pip uninstall -y -q torchvision
	$(PY) -c "import unsloth"
	touch $@

install: $(VENV)/.installed ## Create .venv (if missing) and install sumexp into it

install-dev: $(VENV)/.installed-dev ## install, plus the test dependencies

install-unsloth: $(VENV)/.installed-unsloth ## install-dev, plus unsloth the way its CPU path runs (keeps the installed torch)

run: install ## Run the embedded default experiment (extra Hydra overrides: make run ARGS="model=tiny_t5")
	$(PY) -m sumexp $(ARGS)

test: install-unsloth ## Run the test suite (unsloth included: its tests fail rather than skip here)
	SUMEXP_REQUIRE_UNSLOTH=1 $(PY) -m pytest -q

bench: install-dev ## Run the benchmarks in bench/ (real data from ../shared/data when present)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: ## Remove the virtual environment and caches (keeps outputs/ and multirun/)
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
