"""Sweeps through the real CLI: a process per job, failures recorded, resume by skipping, Optuna, the report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sumexp.report import write_report
from sumexp.sweep import launching
from tests.support.cli import QUICK_NO_CHECKPOINT, sumexp_cli
from tests.support.limits import hang_limit
from tests.support.repo import REPO
from tests.support.runs import job_dirs, metrics

pytestmark = pytest.mark.slow  # every test here starts a process or trains a model

GRID_MODELS = ["tiny_bart", "tiny_t5", "tiny_llama"]
GRID_BACKENDS = [b for b in ("full", "lora", "qlora") if (REPO / "conf" / "backend" / f"{b}.yaml").is_file()]


@pytest.mark.slow
def test_grid_runs_every_pairing_in_its_own_process_and_reports(tmp_path):
    run = sumexp_cli(
        "-m",
        f"model={','.join(GRID_MODELS)}",
        f"backend={','.join(GRID_BACKENDS)}",
        f"hydra.sweep.dir={tmp_path}",
        "hydra.launcher.max_parallel=2",
        *QUICK_NO_CHECKPOINT,
        timeout=1200,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    jobs = job_dirs(tmp_path)
    expected = [f"{i}_{m}_{b}" for i, (m, b) in enumerate((m, b) for m in GRID_MODELS for b in GRID_BACKENDS)]
    assert [j.name for j in jobs] == expected
    records = [metrics(j) for j in jobs]
    assert all(r["status"] == "completed" for r in records), records
    assert len({r["pid"] for r in records}) == len(jobs)  # a fresh process per job
    for job in jobs:  # each job's own output is in its folder, not on the sweep's terminal
        assert "train:" in (job / "stderr.log").read_text() and "sumexp: tiny_" in (job / "stdout.log").read_text()
    assert "train:" not in run.stdout + run.stderr
    lines = run.stdout.splitlines()
    first_done = next(i for i, line in enumerate(lines) if re.search(r"\] 0_\w+: completed", line))
    assert lines.index(f"sumexp: [2/{len(jobs)}] {jobs[1].name}: started") < first_done  # two at a time
    summary = lines[lines.index(f"sumexp: sweep finished: {tmp_path}") + 1 :]
    assert all(any(line.startswith(f"  {j.name} ") and " completed " in line for line in summary) for j in jobs)
    table = write_report([tmp_path], tmp_path)
    assert len(table) == len(jobs) == 3 * len(GRID_BACKENDS) and (tmp_path / "report.png").is_file()
    assert list(table["rouge_mean"]) == [r["dev_rouge_mean"] for r in records]


@pytest.fixture(scope="module")
def failing_sweep(tmp_path_factory):
    """Three jobs of tiny_bart; the middle one gets an invalid precision."""
    sweep_dir = tmp_path_factory.mktemp("failing_sweep")
    args = ["-m", "optim.precision=auto,fp8,fp32", f"hydra.sweep.dir={sweep_dir}", *QUICK_NO_CHECKPOINT]
    return sweep_dir, args, sumexp_cli(*args)


@pytest.mark.slow
def test_a_failed_job_is_recorded_and_the_others_complete(failing_sweep):
    sweep_dir, _, run = failing_sweep
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stdout + run.stderr
    good, bad, other = job_dirs(sweep_dir)
    assert metrics(good)["status"] == metrics(other)["status"] == "completed"
    failed = metrics(bad)
    assert (failed["status"], failed["stage"], failed["model"]) == ("failed", "input", "tiny_bart")
    assert "optim.precision=fp8" in failed["error"]
    assert re.search(rf"^  {bad.name} +failed .*optim\.precision=fp8", run.stdout, re.M), run.stdout
    errors = [line for line in run.stderr.splitlines() if line.startswith("sumexp: error:")]
    assert errors == [
        f"sumexp: error: 1 of 3 jobs did not complete ({bad.name}); each job's metrics.json "
        "has its error and its stderr.log the details"
    ]
    assert "sumexp: error: optim.precision=fp8" in (bad / "stderr.log").read_text()
    report = write_report([sweep_dir], sweep_dir / "report")
    assert list(report["status"]) == ["completed", "failed", "completed"]
    assert "failed: optim.precision=fp8" in (sweep_dir / "report" / "report.md").read_text()


@pytest.mark.slow
def test_rerunning_a_sweep_skips_completed_jobs_and_force_reruns(failing_sweep):
    sweep_dir, args, _ = failing_sweep
    good, bad, other = job_dirs(sweep_dir)
    before = {p: p.stat().st_mtime_ns for j in (good, other) for p in (j / "metrics.json", j / "stdout.log")}
    bad_log = (bad / "stderr.log").stat().st_mtime_ns
    again = sumexp_cli(*args)
    assert again.returncode == 1  # the bad value still fails, and is tried again
    for job in (good, other):
        assert f"{job.name}: skipped (already completed with this config)" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in before} == before  # no process ran for them
    assert (bad / "stderr.log").stat().st_mtime_ns != bad_log
    # Only job 0 of the same grid, same config: skipped; with force=true it runs again in a new process.
    one = ["-m", "optim.precision=auto", f"hydra.sweep.dir={sweep_dir}", *QUICK_NO_CHECKPOINT]
    assert (
        "skipped" in sumexp_cli(*one).stdout
        and (good / "metrics.json").stat().st_mtime_ns == before[good / "metrics.json"]
    )
    pid = metrics(good)["pid"]
    forced = sumexp_cli(*one, "force=true")
    assert "skipped" not in forced.stdout and f"{good.name}: completed" in forced.stdout
    assert metrics(good)["status"] == "completed" and metrics(good)["pid"] != pid
    # The summary covers every job folder of the sweep folder: the earlier failure still counts.
    assert forced.returncode == 1 and f"did not complete ({bad.name})" in forced.stderr


@pytest.mark.slow
def test_optuna_search_runs_trials_and_keeps_the_best(tmp_path):
    run = sumexp_cli(
        "-m", "hparams_search=lr", "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={tmp_path}", *QUICK_NO_CHECKPOINT
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    trials = job_dirs(tmp_path)
    assert len(trials) == 2 and all(metrics(t)["status"] == "completed" for t in trials)
    import yaml

    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["best_value"] == max(metrics(t)["dev_rouge_mean"] for t in trials)
    lrs = [
        float(o.split("=")[1])
        for t in trials
        for o in yaml.safe_load((t / ".hydra" / "overrides.yaml").read_text())
        if o.startswith("optim.lr=")
    ]
    assert len(set(lrs)) == 2 and all(1e-5 <= lr <= 3e-3 for lr in lrs)
    assert results["best_params"]["optim.lr"] in lrs


@pytest.mark.skipif(
    not (REPO / "conf" / "backend" / "lora.yaml").is_file(), reason="conf/backend/lora.yaml is not here yet"
)
def test_lora_rank_search_composes(tmp_path):
    run = sumexp_cli("hparams_search=lora_lr_rank", "--cfg", "hydra")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "backend.lora.r: choice(4, 8, 16, 32)" in run.stdout and "direction: maximize" in run.stdout
    job = sumexp_cli("hparams_search=lora_lr_rank", "--cfg", "job")
    assert job.returncode == 0 and "name: lora" in job.stdout


def test_a_stopped_sweep_ends_its_children_and_marks_their_runs(job_config, tmp_path):
    job = launching.Job(0, job_config(), tmp_path / "0_tiny_bart_full")
    job.run_dir.mkdir()
    (job.run_dir / "metrics.json").write_text(json.dumps({"status": "running"}))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    launching._stop([(job, child, 0.0)])
    assert child.returncode is not None
    assert json.loads((job.run_dir / "metrics.json").read_text())["status"] == "interrupted"


def test_the_launcher_plugin_is_found_from_any_folder_once_installed(tmp_path):
    where = subprocess.run(
        [sys.executable, "-c", "import sumexp; print(sumexp.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=hang_limit(60),
    ).stdout.strip()
    if not where or not Path(where).resolve().is_relative_to(REPO):
        pytest.skip("sumexp is not installed from this checkout (make install does that)")
    code = (
        "from hydra.core.plugins import Plugins; from hydra.plugins.launcher import Launcher; "
        "print(sorted(p.__name__ for p in Plugins.instance().discover(Launcher)))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=hang_limit(120)
    )
    assert "LocalProcessLauncher" in run.stdout and "SlurmLauncher" in run.stdout, run.stderr
