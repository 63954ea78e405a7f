"""Fault injection: a run killed at any point of its path, then resumed, ends as if nothing happened.

tests/support/fault_runner.py stops the real CLI run at a named point (load, train, evaluate, save, predict,
write, clean-up) with SIGKILL or SIGTERM. Every stopped run must leave a record that tells the truth,
and `resume=true` must end it `completed` with the dev ROUGE, dev predictions and submission of a run
that was never stopped.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import yaml

from sumexp.run import lock
from sumexp.security.secrets import REDACTED
from sumexp.training.checkpoints import last_complete_checkpoint
from tests.support.cli import (
    QUICK_CHECKPOINTED,
    QUICK_NO_CHECKPOINT,
    REPO_ROOT_ENV,
    assert_one_log_entry_per_evaluation,
    expect_one_line_error,
    sumexp_cli,
)
from tests.support.fault_runner import POINTS, full_disk_at
from tests.support.limits import hang_limit
from tests.support.security import FAKE_OVERRIDES, FAKES, MORE_FAKE_OVERRIDES

pytestmark = pytest.mark.slow  # every test here starts a process or trains a model

# SIGTERM where a run meets it in life: before training, in a step (before and after the first checkpoint, and at an
# evaluation step), in an evaluation, in test generation, writing.
SIGTERM_POINTS = (
    "load_data",
    "train_step",
    "train_after_checkpoint",
    "train_eval_step",
    "evaluate",
    "predict_test",
    "write_submission",
)
# A kill in step 4 is a kill in a training step (train_step): only a stop that saves tells it apart.
# Left out: a kill in step 4 is the train_step point's; a kill before the first record leaves only .hydra/, checked by
# test_a_stop_in_the_first_seconds_leaves_no_secret (a run there starts afresh, as after load_data).
SIGKILL_POINTS = sorted(set(POINTS) - {"train_eval_step", "hydra_config_saved", "hydra_saved"})
# Measured on a CPU: a resumed run's dev ROUGE is identical and its mean train loss differs in the 8th
# significant digit (float summation order); 1e-6 relative allows that and nothing more.
LOSS_TOLERANCE = 1e-6


@pytest.fixture
def reference(checkpointed_run):
    """The same run, never stopped (conftest.py's checkpointed_run)."""
    return checkpointed_run


def stop_at(point: str, signal_name: str, run_dir, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.fault_runner",
            point,
            signal_name,
            f"hydra.run.dir={run_dir}",
            *QUICK_CHECKPOINTED,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=hang_limit(600),
        **REPO_ROOT_ENV,
    )


def assert_resumes_to_the_reference(run_dir, reference, *extra) -> dict:
    resumed = sumexp_cli(f"hydra.run.dir={run_dir}", *QUICK_CHECKPOINTED, *extra, "resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics, expected = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, reference))
    assert metrics["status"] == "completed"
    assert metrics["dev_rouge_mean"] == expected["dev_rouge_mean"] and metrics["dev_step"] == expected["dev_step"]
    assert metrics["train_steps"] == expected["train_steps"] == 8
    for loss in ("train_loss", "train_loss_last"):  # every step trained once: the losses of the whole run
        assert metrics[loss] == pytest.approx(expected[loss], rel=LOSS_TOLERANCE), loss
    for name in ("submission.csv", "dev_predictions.csv"):
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name
    assert not (run_dir / "checkpoints").exists() and not list(run_dir.glob(".model.*"))
    return metrics


@pytest.mark.slow
@pytest.mark.parametrize("point", SIGKILL_POINTS)
def test_a_run_killed_at_any_point_resumes_to_the_same_result(point, reference, tmp_path):
    stopped = stop_at(point, "SIGKILL", tmp_path)
    assert stopped.returncode == -signal.SIGKILL, stopped.stderr[-3000:]
    status = json.loads((tmp_path / "metrics.json").read_text())["status"]
    assert status == ("completed" if point == "clean_up" else "running")  # all a kill -9 can leave
    assert not lock.is_locked_elsewhere(tmp_path)  # the dead process holds nothing: the folder is free
    assert_resumes_to_the_reference(tmp_path, reference)
    if point == "train_after_checkpoint":
        assert "resuming from" in (tmp_path / "sumexp.log").read_text()
        assert_one_log_entry_per_evaluation(tmp_path)  # the evaluation of step 4 is not logged again


@pytest.mark.slow
@pytest.mark.parametrize("point", SIGTERM_POINTS)
def test_sigterm_at_any_phase_records_interrupted_and_resumes(point, reference, tmp_path):
    stopped = stop_at(point, "SIGTERM", tmp_path)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "interrupted" and "SIGTERM" in record["error"], record
    assert not (tmp_path / "submission.csv").exists() or point == "write_submission"
    if point.startswith("train"):  # saved where it stopped: the record names the checkpoint a resume continues from
        checkpoint = last_complete_checkpoint(tmp_path / "checkpoints")
        assert checkpoint is not None and f"resumable from {checkpoint}" in record["error"], record["error"]
    if point == "train_eval_step":  # saved at the evaluation step itself, which the resume then scores once
        assert checkpoint.name == "checkpoint-4", checkpoint
    assert_resumes_to_the_reference(tmp_path, reference)
    if point in ("train_after_checkpoint", "train_eval_step"):
        assert "resuming from" in (tmp_path / "sumexp.log").read_text()
        assert_one_log_entry_per_evaluation(tmp_path)


@pytest.mark.slow
def test_a_lora_run_stopped_after_a_checkpoint_resumes_the_same_adapter(tmp_path):
    """The resumed LoRA run continues the adapter of its checkpoint: wrapped once (the same trainable
    parameters), not restarted from zero (the same losses and ROUGE as an uninterrupted run)."""
    # Adapters on attention q/v only (peft's default), so an adapter is under a tenth of the model's weights.
    lora = ["backend=lora", "backend.lora.target_modules=null", "optim.early_stopping_patience=null"]
    reference = sumexp_cli(f"hydra.run.dir={tmp_path / 'reference'}", *QUICK_CHECKPOINTED, *lora)
    assert reference.returncode == 0, reference.stderr[-2000:]
    stopped = stop_at("train_after_checkpoint", "SIGTERM", tmp_path / "run", *lora)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
    resumed = assert_resumes_to_the_reference(tmp_path / "run", tmp_path / "reference", *lora)
    expected = json.loads((tmp_path / "reference" / "metrics.json").read_text())
    assert resumed["backend_effective"] == "lora" and resumed["params_trainable"] == expected["params_trainable"]
    assert resumed["params_trainable"] < resumed["params_total"] / 10
    assert 0 < resumed["train_steps_timed"] < resumed["train_steps"]  # the steps after the resume, timed here


@pytest.mark.slow
def test_a_run_without_dev_evaluation_killed_in_test_generation_resumes_at_the_end_of_training(tmp_path):
    """optim.evaluate=false spaces its checkpoints out (optim.checkpoint_minutes), but the one at the end of training
    is always written: a kill while the test split is generated costs the generation, not the training."""
    no_evaluation = ["optim.evaluate=false"]
    reference = sumexp_cli(f"hydra.run.dir={tmp_path / 'reference'}", *QUICK_CHECKPOINTED, *no_evaluation)
    assert reference.returncode == 0, reference.stderr[-2000:]
    stopped = stop_at("predict_test", "SIGKILL", tmp_path / "run", *no_evaluation)
    assert stopped.returncode == -signal.SIGKILL, stopped.stderr[-3000:]
    assert last_complete_checkpoint(tmp_path / "run" / "checkpoints").name == "checkpoint-8"
    resumed = assert_resumes_to_the_reference(tmp_path / "run", tmp_path / "reference", *no_evaluation)
    assert "resuming from" in (tmp_path / "run" / "sumexp.log").read_text()
    assert resumed["train_steps_timed"] == 0 and resumed["train_step_seconds_median"] is None  # no step left


# A dev evaluation long enough to matter (beam search, long summaries, one dialogue a batch): SLURM gives
# about 30 s after its signal, so a stop must not wait for it. It is long (about 10 s on a calm machine) so that
# a process's own exit on a loaded machine, 2 to 3 s, stays well under half of it.
SLOW_EVALUATION = [
    "data.max_eval_samples=50",
    "optim.eval_batch_size=1",
    "generation.num_beams=8",
    "generation.max_new_tokens=128",
    "optim.eval_on_start=false",
    "optim.max_steps=4",
    "optim.eval_steps=2",
]
STOP_SECONDS = 10  # from the signal to the process's exit


@pytest.mark.slow
@pytest.mark.serial  # times the stop against an evaluation's length
def test_a_stop_during_a_long_evaluation_exits_quickly_and_resumes(tmp_path):
    import time

    overrides = [*QUICK_CHECKPOINTED, *SLOW_EVALUATION]
    reference = sumexp_cli(f"hydra.run.dir={tmp_path / 'reference'}", *overrides)
    assert reference.returncode == 0, reference.stderr[-2000:]
    expected = json.loads((tmp_path / "reference" / "metrics.json").read_text())
    one_evaluation = expected["eval_seconds"] / 2  # two evaluations: steps 2 and 4
    stopped = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.fault_runner",
            "evaluating",
            "SIGTERM",
            f"hydra.run.dir={tmp_path / 'run'}",
            *overrides,
        ],
        capture_output=True,
        text=True,
        timeout=hang_limit(600),
        **REPO_ROOT_ENV,
    )
    exited = time.time()
    signalled = float(next(line.split()[-1] for line in stopped.stderr.splitlines() if "signalled at" in line))
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
    took = exited - signalled
    assert took < min(STOP_SECONDS, one_evaluation / 2), (took, one_evaluation)
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "interrupted" and "no checkpoint yet" in record["error"]  # step 2 was never scored
    resumed = sumexp_cli(f"hydra.run.dir={tmp_path / 'run'}", *overrides, "resume=true")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["dev_rouge_mean"] == expected["dev_rouge_mean"]
    assert (tmp_path / "run" / "submission.csv").read_bytes() == (
        tmp_path / "reference" / "submission.csv"
    ).read_bytes()


# --- the first seconds and a full disk: no secret on disk, whatever stops the run ------------------------------------

# Seven secrets of every shape of name, on the command line.
SECRETS_GIVEN = [f"{key}={value}" for key, value in {**FAKE_OVERRIDES, **MORE_FAKE_OVERRIDES}.items()]


def assert_no_secret_and_no_half_file(run_dir):
    """No fake secret in any byte of the folder; every .hydra/*.yaml and record that exists is whole."""
    files = [path for path in run_dir.rglob("*") if path.is_file()]
    for path in files:
        data = path.read_bytes()
        for fake in FAKES:
            assert fake.encode() not in data, f"{fake} in {path}"
    for path in (run_dir / ".hydra").glob("*.yaml"):
        assert yaml.safe_load(path.read_text()) is not None, path
    leftovers = [p.name for p in files if p.name.startswith(".") and p.name != ".sumexp.lock"]
    assert not leftovers, leftovers  # the temporary file of a write that failed is removed
    return files


@pytest.mark.slow
@pytest.mark.parametrize(("point", "signal_name"), [("hydra_config_saved", "SIGKILL"), ("hydra_saved", "SIGTERM")])
def test_a_stop_in_the_first_seconds_leaves_no_secret(point, signal_name, tmp_path):
    """Stopped right after Hydra saved .hydra/config.yaml, or all three of its files: before the first record
    and before any callback, the window in which Hydra's files once held the command line's secrets verbatim."""
    stopped = stop_at(point, signal_name, tmp_path, *SECRETS_GIVEN)
    assert stopped.returncode == -signal.Signals[signal_name], stopped.stderr[-3000:]
    files = assert_no_secret_and_no_half_file(tmp_path)
    assert (tmp_path / ".hydra" / "config.yaml") in files and not (tmp_path / "metrics.json").exists()
    saved = yaml.safe_load((tmp_path / ".hydra" / "config.yaml").read_text())
    assert saved["hf_token"] == saved["auth"]["token"] == saved["credentials"] == REDACTED


@pytest.mark.slow
def test_a_full_disk_at_any_write_is_one_line_and_leaves_no_secret(tmp_path):
    """The disk full at each write of a run in turn (Hydra's three files, the records, the model, a checkpoint,
    the predictions, the submission, the log of steps): one line naming the folder, exit 2, no secret on disk.
    Each write is a run of its own (about 2 s in this process): the loop ends at the first run with a write
    fewer than its number, which completes."""
    overrides = [*QUICK_NO_CHECKPOINT, "cache_dir=null", *SECRETS_GIVEN]
    failed_at = []
    for nth in range(1, 40):
        run_dir = tmp_path / str(nth)
        with full_disk_at(nth, run_dir) as writes:
            run = sumexp_cli(f"hydra.run.dir={run_dir}", *overrides)
        assert_no_secret_and_no_half_file(run_dir)
        for fake in FAKES:
            assert fake not in run.stdout + run.stderr
        if len(writes) < nth:  # no nth write: the run completed
            assert run.returncode == 0, run.stderr[-3000:]
            break
        failed_at.append(writes[nth - 1])
        expect_one_line_error(run, str(run_dir), "the disk is full", "free some space")
    assert {".hydra/config.yaml FULL", ".hydra/overrides.yaml FULL", "metrics.json FULL", "model FULL"} <= set(
        failed_at
    ), failed_at
    assert {"checkpoint FULL", "submission.csv FULL", "dev_predictions.csv FULL"} <= set(failed_at), failed_at
