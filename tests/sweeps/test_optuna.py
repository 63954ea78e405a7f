"""Optuna through the CLI: a stored study (SQLite) works, and a killed search continues to the size asked for."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.cli import QUICK_NO_CHECKPOINT, REPO_ROOT_ENV, expect_one_line_error, sumexp_cli
from tests.support.limits import hang_limit
from tests.support.runs import job_dirs, metrics

pytestmark = pytest.mark.slow  # every test here starts a process or trains a model

# Character ROUGE, so that tiny runs score above zero and differ by learning rate.
SEARCH = ["-m", "hparams_search=lr", "hydra.sweeper.n_trials=6", *QUICK_NO_CHECKPOINT, "score.tokenizer=char"]


def search_args(tmp_path: Path) -> list[str]:
    return [
        *SEARCH,
        f"hydra.sweeper.storage=sqlite:///{tmp_path / 'study.db'}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]


def trial_lr(job: Path) -> float:
    overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
    return next(float(o.split("=", 1)[1]) for o in overrides if o.startswith("optim.lr="))


def stored_trials(tmp_path: Path):
    import optuna

    return optuna.load_study(study_name="lr", storage=f"sqlite:///{tmp_path / 'study.db'}").get_trials()


def kill_when_third_trial_starts(tmp_path: Path, timeout: float = 900) -> None:
    sweep = subprocess.Popen(
        [sys.executable, "-m", "sumexp", *search_args(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **REPO_ROOT_ENV,
    )
    deadline = time.monotonic() + hang_limit(timeout)
    while not list((tmp_path / "sweep").glob("2_*")):
        assert sweep.poll() is None, sweep.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the third trial did not start in time"
        time.sleep(0.2)
    sweep.send_signal(signal.SIGKILL)  # no handler, no goodbye: trial 2 stays RUNNING in the study
    sweep.communicate(timeout=hang_limit(60))


@pytest.mark.slow
def test_a_killed_stored_search_continues_to_six_distinct_trials_in_their_own_folders(tmp_path):
    kill_when_third_trial_starts(tmp_path)
    first = {job.name: (metrics(job), trial_lr(job)) for job in job_dirs(tmp_path / "sweep")[:2]}
    assert [t.state.name for t in stored_trials(tmp_path)] == ["COMPLETE", "COMPLETE", "RUNNING"]

    run = sumexp_cli(*search_args(tmp_path), timeout=1200)  # the same command continues the search
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    trials = stored_trials(tmp_path)
    assert [t.number for t in trials] == list(range(6)) and {t.state.name for t in trials} == {"COMPLETE"}
    jobs = job_dirs(tmp_path / "sweep")
    assert [int(j.name.split("_")[0]) for j in jobs] == list(range(6))  # one folder per trial, numbered like it
    for job, trial in zip(jobs, trials):  # each folder holds its own trial's run
        assert trial_lr(job) == pytest.approx(trial.params["optim.lr"], rel=1e-12)
        assert metrics(job)["status"] == "completed" and metrics(job)["dev_rouge_mean"] == pytest.approx(trial.value)
    for name, (record, lr) in first.items():  # the first two were not run again
        assert metrics(tmp_path / "sweep" / name) == record and trial_lr(tmp_path / "sweep" / name) == lr
    assert len({round(t.params["optim.lr"], 15) for t in trials}) == 6  # a continued sampler draws afresh
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    best = max(trials, key=lambda t: t.value)
    assert results["best_value"] == best.value == max(metrics(j)["dev_rouge_mean"] for j in jobs)
    assert results["best_params"]["optim.lr"] == best.params["optim.lr"]
    # One header for the search, and the progress line gives each job the seconds of its summary line.
    assert run.stdout.count("sumexp: sweep of") == 1 and "sweep of 6 job(s)" in run.stdout, run.stdout
    for job in jobs[2:]:
        took = re.search(rf"\] {job.name}: completed in (\d+) s", run.stdout).group(1)
        assert re.search(rf"^  {job.name} +completed .* {took} s$", run.stdout, re.M), run.stdout


@pytest.mark.slow
def test_a_finished_stored_search_runs_nothing_more(tmp_path):
    args = [*search_args(tmp_path), "hydra.sweeper.n_trials=1"]
    assert sumexp_cli(*args).returncode == 0
    again = sumexp_cli(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(stored_trials(tmp_path)) == 1 and "started" not in again.stdout


@pytest.mark.slow
def test_a_search_stopped_by_sigterm_runs_its_interrupted_trial_again_in_its_folder(tmp_path):
    quick = [
        arg for arg in search_args(tmp_path) if not arg.startswith(("optim.max_steps=", "hydra.sweeper.n_trials="))
    ]
    sweep = subprocess.Popen(
        [sys.executable, "-m", "sumexp", *quick, "hydra.sweeper.n_trials=2", "optim.max_steps=2000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **REPO_ROOT_ENV,
    )
    log, deadline = tmp_path / "sweep" / "0_tiny_bart_full" / "stderr.log", time.monotonic() + hang_limit(600)
    while not (log.is_file() and "loss=" in log.read_text(errors="replace")):
        assert sweep.poll() is None and time.monotonic() < deadline, sweep.communicate()[1][-3000:]
        time.sleep(0.2)
    sweep.send_signal(signal.SIGTERM)
    sweep.communicate(timeout=hang_limit(300))
    assert sweep.returncode == 128 + signal.SIGTERM
    [interrupted] = stored_trials(tmp_path)
    assert interrupted.state.name == "WAITING"  # not RUNNING for ever: it runs first when the search continues
    assert metrics(tmp_path / "sweep" / "0_tiny_bart_full")["status"] == "interrupted"
    # Shorter now, so the folder's checkpoint no longer fits the trial's config: force=true starts it over
    # (a plain re-run is refused with one line, resume=true would continue the 2000 steps).
    run = sumexp_cli(*quick, "hydra.sweeper.n_trials=2", "optim.max_steps=2", "force=true")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    trials = stored_trials(tmp_path)
    assert [(t.number, t.state.name) for t in trials] == [(0, "COMPLETE"), (1, "COMPLETE")]
    assert trials[0].params == interrupted.params
    jobs = job_dirs(tmp_path / "sweep")
    assert [trial_lr(j) for j in jobs] == pytest.approx([t.params["optim.lr"] for t in trials], rel=1e-12)
    assert all(metrics(j)["status"] == "completed" for j in jobs)


@pytest.mark.parametrize(
    "interval, fragment",
    [
        ("interval(3e-3,1e-5)", "must be smaller than or equal to the `high` value"),
        ("interval(0,1e-3)", "larger than 0"),
    ],
)
def test_a_search_space_optuna_cannot_build_is_one_line_and_starts_no_trial(interval, fragment, tmp_path):
    run = sumexp_cli(*search_args(tmp_path), f"optim.lr=tag(log,{interval})")
    expect_one_line_error(run, "hydra.sweeper.params:", fragment, "interval(low, high) with low <= high")
    assert not (tmp_path / "sweep").is_dir() or not job_dirs(tmp_path / "sweep")


def test_a_search_in_which_every_trial_failed_ends_in_one_line(tmp_path):
    run = sumexp_cli(*search_args(tmp_path), "hydra.sweeper.n_trials=1", "optim.batch_size=0")
    expect_one_line_error(run, "study lr: no trial completed", "metrics.json say why")
    [job] = job_dirs(tmp_path / "sweep")
    assert metrics(job)["status"] == "failed" and "optim.batch_size=0" in metrics(job)["error"]
