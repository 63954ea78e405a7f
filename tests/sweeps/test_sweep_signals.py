"""A local sweep under signals: SIGTERM and Ctrl-C stop its jobs once each, mark them and print the summary;
its job files are owner-only and hold no secret; a plain Hydra app's dead job is not taken for sumexp's."""

from __future__ import annotations

import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sumexp.sweep import job_files, launching
from sumexp.training.checkpoints import last_complete_checkpoint
from tests.support.cli import REPO_ROOT_ENV
from tests.support.limits import hang_limit
from tests.support.runs import job_dirs, metrics

pytestmark = pytest.mark.serial  # signals a sweep once its jobs are under way, by the clock

TOKEN = "hf_abcdefSECRET"
# Two jobs, one at a time; the first is stopped mid-training (2000 steps take far longer than the test waits).
TWO_LONG_JOBS = [
    "-m",
    "optim.lr=1e-4,2e-4",
    "hydra.launcher.max_parallel=1",
    "optim.max_steps=2000",
    "optim.eval_steps=1000",  # no evaluation near the stop: a stop that lands in one saves no checkpoint there
    "optim.eval_on_start=false",
    "generation.num_beams=1",
    "generation.max_new_tokens=8",
    "data.max_eval_samples=4",
    "score.tokenizer=whitespace",
    f"+hf_token={TOKEN}",
]
STOP_SECONDS = 240  # from the signal to the sweep's exit: the job saves a checkpoint first (and, today, evaluates)


def start_sweep(sweep_dir: Path) -> subprocess.Popen:
    """The sweep as a terminal starts it: the leader of its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "sumexp", *TWO_LONG_JOBS, f"hydra.sweep.dir={sweep_dir}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **REPO_ROOT_ENV,
    )


def wait_until_training(sweep_dir: Path, process: subprocess.Popen, timeout: float = 600) -> int:
    """The pid of the first job once it has trained a step."""
    deadline = time.monotonic() + hang_limit(timeout)
    log = sweep_dir / "0_tiny_bart_full" / "stderr.log"
    while not (log.is_file() and "loss=" in log.read_text(errors="replace")):
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the first job did not start training in time"
        time.sleep(0.2)
    return metrics(sweep_dir / "0_tiny_bart_full")["pid"]


def assert_stopped_cleanly(sweep_dir: Path, process: subprocess.Popen, child_pid: int, signum: signal.Signals):
    stdout, stderr = process.communicate(timeout=hang_limit(STOP_SECONDS))
    assert process.returncode == 128 + signum, stdout[-2000:] + stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)  # the job ended with the sweep
    [job] = job_dirs(sweep_dir)  # the second job never started: no folder that looks like it ran
    record = metrics(job)
    assert record["status"] == "interrupted" and f"interrupted by {signum.name}; resumable from" in record["error"], (
        record
    )
    assert last_complete_checkpoint(job / "checkpoints") is not None
    assert f"sumexp: sweep stopped by {signum.name}: {sweep_dir}" in stdout
    assert any(line.startswith(f"  {job.name} ") and " interrupted " in line for line in stdout.splitlines()), stdout
    assert any(line.split() == ["1_tiny_bart_full", "not", "started"] for line in stdout.splitlines()), stdout
    assert not (sweep_dir / ".launcher").exists()
    leaks = [p for p in sweep_dir.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert not leaks
    return job


@pytest.mark.slow
def test_sigterm_to_the_sweep_stops_its_job_marks_it_and_starts_no_other(tmp_path):
    process = start_sweep(tmp_path)
    child_pid = wait_until_training(tmp_path, process)
    process.send_signal(signal.SIGTERM)  # to the sweep's process alone, as kill, timeout and schedulers send it
    assert_stopped_cleanly(tmp_path, process, child_pid, signal.SIGTERM)


@pytest.mark.slow
def test_ctrl_c_reaches_each_job_once_and_prints_the_summary_without_a_traceback(tmp_path):
    process = start_sweep(tmp_path)
    child_pid = wait_until_training(tmp_path, process)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal does: the whole foreground process group
    job = assert_stopped_cleanly(tmp_path, process, child_pid, signal.SIGINT)
    # A second signal would have ended the job at once, without its checkpoint and record.
    assert "race condition" not in (job / "stderr.log").read_text(errors="replace")


def test_job_files_are_owner_only_and_hold_no_secret_but_give_it_back(tmp_path):
    from omegaconf import OmegaConf

    config = OmegaConf.create(
        {
            "hf_token": TOKEN,
            "hydra": {"overrides": {"task": [f"+hf_token={TOKEN}"]}},
            "wandb": {"api_key": "wandb_key_12345"},
        }
    )
    secrets = job_files.find_job_secrets(config, environ={})
    assert secrets == sorted([TOKEN, "wandb_key_12345"])
    path = tmp_path / "job_0.pkl"
    job_files.dump(path, {"config": config, "note": f"Bearer {TOKEN}!"}, secrets)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TOKEN.encode() not in path.read_bytes() and b"wandb_key_12345" not in path.read_bytes()
    environ = {"PATH": "/bin", **job_files.secret_environment(secrets)}
    back = job_files.load(path, job_files.take_secrets(environ))
    assert back["config"] == config and back["note"] == f"Bearer {TOKEN}!"
    assert environ == {"PATH": "/bin"}  # handed over once, not passed on to the job's own children
    with pytest.raises(pickle.UnpicklingError):
        job_files.load(path, [])  # without its secrets a job file cannot be read as if it had none


def test_overlapping_secrets_and_any_text_round_trip(tmp_path):
    secrets = ["abcdWXYZ", "WXYZefgh", "sumexp-secret"]  # overlapping, and one that is the file's own marker word
    text = "x abcdWXYZefgh y sumexp-secret z abcdWXYZ"
    job_files.dump(tmp_path / "job.pkl", {"text": text, "alone": "WXYZefgh"}, secrets)
    data = (tmp_path / "job.pkl").read_bytes()
    assert b"abcdWXYZ" not in data and b"WXYZefgh" not in data
    assert job_files.load(tmp_path / "job.pkl", secrets) == {"text": text, "alone": "WXYZefgh"}


def test_a_job_file_is_created_owner_only_even_under_a_permissive_umask(tmp_path):
    previous = os.umask(0)
    try:
        job_files.dump(tmp_path / "job.pkl", {"a": 1}, [])
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "job.pkl").stat().st_mode) == 0o600


PLAIN_APP = """
import os, signal
import hydra

@hydra.main(version_base="1.3", config_path=None, config_name=None)
def main(cfg):
    if cfg.die:
        os.kill(os.getpid(), signal.SIGKILL)
    print("ran")

if __name__ == "__main__":
    main()
"""


@pytest.mark.slow
def test_a_plain_hydra_apps_killed_job_is_a_failed_job_not_a_sumexp_record(tmp_path):
    """The launcher is found by every Hydra app in the environment: its failure path must not assume sumexp's config."""
    (tmp_path / "app.py").write_text(PLAIN_APP)
    repo = str(REPO_ROOT_ENV["cwd"])
    env = {**REPO_ROOT_ENV["env"], "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(
        [
            sys.executable,
            "app.py",
            "-m",
            "hydra/launcher=local",
            "+die=false,true",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=hang_limit(300),
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "not in struct" not in run.stderr and "killed by SIGKILL" in run.stderr, run.stderr
    assert "sumexp: [1/2] 0: finished" in run.stdout and "sumexp: [2/2] 1: failed" in run.stdout, run.stdout
    assert not list((tmp_path / "sweep").rglob("metrics.json"))  # no sumexp record in another app's folders
    assert not (tmp_path / "sweep" / ".launcher").exists()


def test_a_job_that_died_of_the_sweeps_stop_without_a_record_is_marked_interrupted(job_config, tmp_path, capsys):
    job = launching.Job(0, job_config(), tmp_path / "0_tiny_bart_full")
    job.run_dir.mkdir()
    (job.run_dir / "metrics.json").write_text(json.dumps({"status": "running"}))  # it died before it could record
    result = launching._finish(
        job, -signal.SIGTERM, tmp_path, seconds=2.0, progress=launching.Progress(1), stopped_by=signal.SIGTERM
    )
    record = metrics(job.run_dir)
    assert (record["status"], record["error"]) == ("interrupted", "the sweep was stopped by SIGTERM")
    assert result.return_value is None and "0_tiny_bart_full: interrupted in 2 s" in capsys.readouterr().out


ORPHAN = """
import os, subprocess, sys, time
code = "import os, sys, time; from sumexp.sweep.child import stop_with_the_sweep; stop_with_the_sweep(os.getppid()); time.sleep(120)"
job = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
print(job.pid, flush=True)
time.sleep(120)
"""


def is_gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")  # a zombie has ended
    except FileNotFoundError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_job_ends_when_the_sweeps_process_is_killed_outright():
    sweep = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, text=True, **REPO_ROOT_ENV)
    job_pid = int(sweep.stdout.readline())
    time.sleep(3)  # the job has set its parent-death signal
    assert not is_gone(job_pid)
    sweep.kill()
    sweep.wait()
    deadline = time.monotonic() + hang_limit(30)
    while not is_gone(job_pid):
        assert time.monotonic() < deadline, "the job outlived the sweep"
        time.sleep(0.1)
