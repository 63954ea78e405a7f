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

from sumexp.run import lock
from tests.support.cli import QUICK_CHECKPOINTED, REPO_ROOT_ENV, sumexp_cli
from tests.support.fault_runner import POINTS
from tests.support.limits import hang_limit

pytestmark = pytest.mark.slow  # every test here starts a process or trains a model

# SIGTERM where a run meets it in life: before training, in a step, in an evaluation, in test generation, writing.
SIGTERM_POINTS = ("load_data", "train_step", "evaluate", "predict_test", "write_submission")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference")
    run = sumexp_cli(f"hydra.run.dir={run_dir}", *QUICK_CHECKPOINTED)
    assert run.returncode == 0, run.stderr[-2000:]
    return run_dir


def stop_at(point: str, signal_name: str, run_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.fault_runner",
            point,
            signal_name,
            f"hydra.run.dir={run_dir}",
            *QUICK_CHECKPOINTED,
        ],
        capture_output=True,
        text=True,
        timeout=hang_limit(600),
        **REPO_ROOT_ENV,
    )


def assert_resumes_to_the_reference(run_dir, reference):
    resumed = sumexp_cli(f"hydra.run.dir={run_dir}", *QUICK_CHECKPOINTED, "resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics, expected = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, reference))
    assert metrics["status"] == "completed"
    assert metrics["dev_rouge_mean"] == expected["dev_rouge_mean"] and metrics["dev_step"] == expected["dev_step"]
    for name in ("submission.csv", "dev_predictions.csv"):
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name
    assert not (run_dir / "checkpoints").exists() and not list(run_dir.glob(".model.*"))


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(POINTS))
def test_a_run_killed_at_any_point_resumes_to_the_same_result(point, reference, tmp_path):
    stopped = stop_at(point, "SIGKILL", tmp_path)
    assert stopped.returncode == -signal.SIGKILL, stopped.stderr[-3000:]
    status = json.loads((tmp_path / "metrics.json").read_text())["status"]
    assert status == ("completed" if point == "clean_up" else "running")  # all a kill -9 can leave
    assert not lock.is_locked_elsewhere(tmp_path)  # the dead process holds nothing: the folder is free
    assert_resumes_to_the_reference(tmp_path, reference)


@pytest.mark.slow
@pytest.mark.parametrize("point", SIGTERM_POINTS)
def test_sigterm_at_any_phase_records_interrupted_and_resumes(point, reference, tmp_path):
    stopped = stop_at(point, "SIGTERM", tmp_path)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "interrupted" and "SIGTERM" in record["error"], record
    assert not (tmp_path / "submission.csv").exists() or point == "write_submission"
    assert_resumes_to_the_reference(tmp_path, reference)


# A dev evaluation long enough to matter (beam search, long summaries, one dialogue a batch): SLURM gives
# about 30 s after its signal, so a stop must not wait for it.
SLOW_EVALUATION = [
    "data.max_eval_samples=40",
    "optim.eval_batch_size=1",
    "generation.num_beams=4",
    "generation.max_new_tokens=64",
    "optim.eval_on_start=false",
    "optim.max_steps=4",
    "optim.eval_steps=2",
]
STOP_SECONDS = 10  # from the signal to the process's exit


@pytest.mark.slow
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
