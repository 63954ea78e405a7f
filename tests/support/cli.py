"""The CLI as the tests run it: `python -m sumexp` offline from the repository root (in-process unless a test needs a
process), its one-line errors, and the argument lists of the short runs that several test modules start."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.in_process import run_module
from tests.support.limits import hang_limit
from tests.support.repo import REPO

# How every CLI run of the tests runs: offline, from the repository root.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
REPO_ROOT_ENV = {
    "env": {**os.environ, **OFFLINE},
    "cwd": REPO,
}

# A few seconds of work per job (2 steps, dev scored once at the end, no checkpoint); most of a job's time is
# its process starting and importing torch. For sweeps, where each job is a process.
QUICK_NO_CHECKPOINT = [
    "data.max_train_samples=16",
    "data.max_eval_samples=4",
    "optim.max_steps=2",
    "optim.batch_size=8",
    "optim.eval_on_start=false",
    "generation.num_beams=1",
    "generation.max_new_tokens=4",
    "score.tokenizer=whitespace",
]
# A few seconds of training (8 steps): checkpoints at steps 4 and 8, dev evaluations at 0, 4 and 8.
# For runs that are stopped, resumed or refused in their folder.
QUICK_CHECKPOINTED = [
    "data.max_train_samples=16",
    "data.max_eval_samples=4",
    "optim.batch_size=4",
    "optim.max_steps=8",
    "optim.eval_steps=4",
    "optim.logging_steps=2",
    "generation.num_beams=1",
    "generation.max_new_tokens=12",
    "score.tokenizer=whitespace",
]

# Four steps at a rate adapters learn at on the tiny models, the loss logged at each: a run that trained shows a
# falling loss. For the hub-shaped folders under each backend.
FOUR_LOGGED_STEPS = [
    "data.max_train_samples=32",
    "data.max_eval_samples=4",
    "optim.max_steps=4",
    "optim.batch_size=8",
    "optim.lr=1e-2",
    "optim.logging_steps=1",
    "optim.eval_on_start=false",
    "generation.num_beams=1",
    "generation.max_new_tokens=8",
    "score.tokenizer=whitespace",
]


def sumexp_cli(*args, timeout=600, env=None, process=False, module="sumexp"):
    """`python -m sumexp ARGS` offline, in this process (tests/support/in_process.py); `process=True` starts a
    real one, for what only a process shows (an exit by signal, a lock between processes, import order).
    `env` adds to the environment; `timeout`, for a process, is for a calm machine (limits.py)."""
    # A sweep's jobs and unsloth's patching (it must be imported before transformers) need a fresh interpreter.
    process = process or "-m" in args or "backend=unsloth" in args
    if not process:
        return run_module(module, list(args), env={**OFFLINE, **(env or {})}, cwd=REPO)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=hang_limit(timeout),
        env={**REPO_ROOT_ENV["env"], **(env or {})},
        cwd=REPO_ROOT_ENV["cwd"],
    )


def expect_one_line_error(run, *fragments):
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr + run.stdout
    errors = [line for line in run.stderr.splitlines() if line.startswith("sumexp: error:")]
    assert len(errors) == 1, run.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def assert_outputs_rescore_to_the_metrics(run_dir, metrics, tokenizer):
    """The run's own dev_predictions.csv, scored by `python -m sumexp.score`, gives its metrics.json."""
    from sumexp.score.cli import build_parser, score_files

    predictions = str(run_dir / "dev_predictions.csv")
    again = score_files(build_parser().parse_args([predictions, predictions, "--tokenizer", tokenizer]))
    assert again["num_examples"] == metrics["data"]["dev"]["rows"]
    assert again["rouge_mean"] == pytest.approx(metrics["dev_rouge_mean"], abs=1e-9)
    assert 100 * again["rouge1"]["fmeasure"] == pytest.approx(metrics["dev_rouge1"], abs=1e-9)


def assert_one_log_entry_per_evaluation(run_dir):
    """Each evaluated step is logged once: no extra entry at the last step with another step's numbers."""
    entries = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    steps = [entry["step"] for entry in entries if "eval_rouge_mean" in entry]
    assert steps and len(steps) == len(set(steps)), steps
