# sumexp: `make run` and `make test` set everything up on a fresh machine (Python 3.10+ with pip).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; on a GPU machine pass e.g. TORCH="torch==2.13.0" from your CUDA index,
# or install torch into $(VENV) first (an installed torch in the pinned range is kept).
TORCH ?= torch==2.13.0
ARGS ?=
comma := ,
empty :=
space := $(empty) $(empty)
# make sweep: one tiny model of each family (seq2seq, causal) x each of these backends that conf/backend has.
# tiny_bart stays out of the demo: from random weights its adapters learn nothing in 60 steps (one summary
# for every row), so it would add six minutes and no comparison.
SWEEP_MODELS ?= tiny_t5,tiny_llama
SWEEP_BACKENDS ?= $(subst $(space),$(comma),$(filter full lora qlora,$(basename $(notdir $(wildcard conf/backend/*.yaml)))))
# Enough steps that adapters learn on the tiny models (at 10x the model's rate: backend.lr_scale), dev
# scored once at the end, on 16 rows; two seeds, so the report can tell a difference from seed noise.
SWEEP_SEEDS ?= 1,2
SWEEP_ARGS ?= optim.max_steps=60 optim.eval_steps=60 optim.eval_on_start=false data.max_eval_samples=16 generation.num_beams=1
# Adapters are for a pretrained base: each tiny model is first pretrained as a language model on the training
# dialogues (never the summaries), once, cached in cache_dir and shared by all its jobs, like a hub checkpoint.
# Empty it (SWEEP_PRETRAIN=) for random bases, or when SWEEP_MODELS names a checkpoint (it has no model.scratch).
SWEEP_PRETRAIN ?= model.scratch.pretrain.steps=100

.DEFAULT_GOAL := help
.PHONY: help install install-dev install-unsloth run test test-fast lint sweep report speed bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e . --config-settings editable_mode=compat
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev]" --config-settings editable_mode=compat
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

# The suite: a pytest-xdist worker per core (each module on one worker, so its shared runs are made once; the
# modules that train most start first, conftest.py), and beside it one process for the `serial` tests, which
# stop or signal runs, sweeps and SLURM jobs by the clock and spend most of their time waiting for them.
# Their output is shown after the parallel pass. TEST_WORKERS=0: both passes in turn, each in one process.
TEST_WORKERS ?= auto
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)
PARALLEL_PASS = SUMEXP_REQUIRE_UNSLOTH=1 $(PY) -m pytest -q $(XDIST) -m "not serial" --durations=20
SERIAL_PASS = SUMEXP_REQUIRE_UNSLOTH=1 OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -m serial --durations=10

test: install-unsloth lint ## The whole test suite, as CI runs it (unsloth included: its tests fail rather than skip here)
ifeq ($(TEST_WORKERS),0)
	$(PARALLEL_PASS)
	$(SERIAL_PASS)
else
	@log=$$(mktemp); $(SERIAL_PASS) > $$log 2>&1 & serial=$$!; \
	trap 'kill $$serial 2>/dev/null; rm -f $$log' EXIT; \
	$(PARALLEL_PASS); parallel_status=$$?; \
	wait $$serial; serial_status=$$?; \
	echo "== the serial pass (run beside the parallel one)"; cat $$log; \
	test $$parallel_status -eq 0 -a $$serial_status -eq 0
endif

test-fast: install-dev ## The quick loop: every test that starts no process and trains no model (under a minute)
	$(PY) -m pytest -q $(XDIST) -m "not slow and not serial"

lint: install-dev ## ruff: lint and format check (line length 120, settings in pyproject.toml)
	$(PY) -m ruff check sumexp hydra_plugins tests bench
	$(PY) -m ruff format --check sumexp hydra_plugins tests bench

sweep: install ## A small offline grid: tiny models x backends (full, lora, qlora) x 2 seeds, a process per job, into multirun/
	$(PY) -m sumexp -m model=$(SWEEP_MODELS) backend=$(SWEEP_BACKENDS) seed=$(SWEEP_SEEDS) $(SWEEP_ARGS) $(SWEEP_PRETRAIN) $(ARGS)

# make speed: each tiny model's backends timed in turns, written beside the newest sweep (or into SPEED_OUT) so that
# make report shows those ratios with their intervals.
SPEED_OUT ?= $(or $(lastword $(sort $(wildcard multirun/*/*/))),.)
speed: install ## Time full, lora and qlora of each tiny sweep model in turns (python -m sumexp.speed), beside the newest sweep
	@for model in $(subst $(comma),$(space),$(SWEEP_MODELS)); do \
	  $(PY) -m sumexp.speed model=$$model backend=$(SWEEP_BACKENDS) --out $(SPEED_OUT) $(ARGS) || exit 1; done

report: install ## Compare the runs of the newest sweep in multirun/ (report.md, .csv, .png, .html)
	@latest=$$(ls -d multirun/*/*/ 2>/dev/null | sort | tail -n 1); \
	if [ -z "$$latest" ]; then echo "make report: no sweep in multirun/; run make sweep first" >&2; exit 2; fi; \
	$(PY) -m sumexp.report "$$latest"

bench: install-dev ## Run every CPU benchmark in bench/, and bench/backends.py on a GPU (docs/PERFORMANCE.md)
	@status=0; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || status=1; done; \
	if [ -f bench/backends.py ]; then \
	  if $(PY) -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
	    echo "== bench/backends.py"; $(PY) bench/backends.py || status=1; \
	  else echo "== bench/backends.py: skipped, it needs a GPU (CPU check: $(PY) bench/backends.py --device cpu --tiny)"; fi; \
	fi; exit $$status

clean: ## Remove the virtual environment and caches (keeps outputs/ and multirun/)
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
