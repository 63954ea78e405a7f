"""hydra/launcher=slurm on a real single-node SLURM cluster (started by .ci/slurm.sh; root needed).

Nothing is installed here: .ci/run installs SLURM (`bash .ci/slurm.sh install`). Skips with the reason where
the cluster is not installed or cannot be started; fails instead when SUMEXP_REQUIRE_SLURM=1
(set by .ci/run), so CI cannot pass without running it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sumexp.report import write_report
from sumexp.run import lock
from sumexp.training.checkpoints import last_complete_checkpoint
from tests.support.cli import QUICK_NO_CHECKPOINT, REPO_ROOT_ENV, expect_one_line_error, sumexp_cli
from tests.support.limits import hang_limit
from tests.support.repo import REPO
from tests.support.runs import job_dirs

pytestmark = pytest.mark.serial  # the cluster's time limits and signal delays run by the clock

REQUIRED = os.environ.get("SUMEXP_REQUIRE_SLURM") == "1"


def _cannot_start() -> str | None:
    if os.geteuid() != 0:
        return "not root: starting slurmctld, slurmd and munged needs root"
    if shutil.which("slurmctld") is None or shutil.which("sbatch") is None:
        return "SLURM is not installed (as root: bash .ci/slurm.sh install)"
    return None


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running single-node cluster; the daemons this fixture started are stopped after the module."""
    reason = _cannot_start()
    if reason:
        (pytest.fail if REQUIRED else pytest.skip)(f"SLURM cluster unavailable: {reason}")
    state = tmp_path_factory.mktemp("slurm") / "started.pids"
    up = subprocess.run(
        ["bash", str(REPO / ".ci" / "slurm.sh"), "up", str(state)],
        capture_output=True,
        text=True,
        timeout=hang_limit(600),
    )
    if up.returncode != 0:
        message = f"SLURM cluster did not start: {up.stderr.strip()[-1500:]}"
        (pytest.skip if up.returncode == 3 and not REQUIRED else pytest.fail)(message)
    yield
    subprocess.run(["bash", str(REPO / ".ci" / "slurm.sh"), "down", str(state)], timeout=hang_limit(60))


SECRET = "hf_SlurmSweepSecret0123456789"


@pytest.mark.slow
def test_a_grid_runs_as_a_slurm_job_array_and_is_reported(slurm_cluster, tmp_path):
    """Its token reaches the jobs but no file of the sweep (submitit's pickles and logs included) and not the
    terminal; submitit's folder is its owner's alone."""
    run = sumexp_cli(
        "-m",
        "hydra/launcher=slurm",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=3",
        "hydra.launcher.timeout_min=20",
        "model=tiny_bart,tiny_gpt2",
        "optim.lr=1e-4,1e-3",
        f"hydra.sweep.dir={tmp_path}",
        f"+hf_token={SECRET}",
        *QUICK_NO_CHECKPOINT,
        timeout=1200,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert SECRET not in run.stdout + run.stderr and "+hf_token=REDACTED" in run.stdout + run.stderr
    pickles = list((tmp_path / ".submitit").rglob("*.pkl"))
    assert len(pickles) == 8  # each job's submitted and result pickles
    assert [f for f in tmp_path.rglob("*") if f.is_file() and SECRET.encode() in f.read_bytes()] == []
    assert (tmp_path / ".submitit").stat().st_mode & 0o777 == 0o700
    jobs = job_dirs(tmp_path)
    assert [j.name for j in jobs] == ["0_tiny_bart_full", "1_tiny_bart_full", "2_tiny_gpt2_full", "3_tiny_gpt2_full"]
    records = [json.loads((j / "metrics.json").read_text()) for j in jobs]
    assert all(r["status"] == "completed" for r in records), records
    assert [r["model"] for r in records] == ["tiny_bart", "tiny_bart", "tiny_gpt2", "tiny_gpt2"]
    tasks = sorted(p.name for p in (tmp_path / ".submitit").iterdir() if re.fullmatch(r"\d+_\d+", p.name))
    assert len(tasks) == 4 and len({t.split("_")[0] for t in tasks}) == 1  # one job array of 4 tasks
    table = write_report([tmp_path], tmp_path)
    assert list(table["status"]) == ["completed"] * 4 and (tmp_path / "report.png").is_file()


# --- pre-emption, the time limit, scancel, a vanished job, resources (issue 17 §1) -------------------------------------
# Each job of these sweeps: tiny_bart, 32 steps, a dev evaluation and a checkpoint every 4 steps, so a signal can
# land in training after a checkpoint exists; 2 jobs at a time on a 2-CPU node.
TINY = [
    "model=tiny_bart",
    "data.max_train_samples=16",
    "data.max_eval_samples=4",
    "optim.batch_size=4",
    "optim.max_steps=32",
    "optim.eval_steps=4",
    "optim.logging_steps=4",
    "optim.eval_on_start=false",
    "optim.early_stopping_patience=null",
    "generation.num_beams=1",
    "generation.max_new_tokens=8",
    "score.tokenizer=whitespace",
]
ON_SLURM = [
    "-m",
    "hydra/launcher=slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=3",
    "hydra.launcher.timeout_min=20",
    "hydra.launcher.vanished_after_s=10",
    "hydra.launcher.poll_s=1",
]


def start_sweep(sweep_dir: Path, *overrides) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sumexp", *ON_SLURM, f"hydra.sweep.dir={sweep_dir}", *TINY, *overrides],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **REPO_ROOT_ENV,
    )


def slurm_id(sweep_dir: Path, num: int) -> str:
    """The array task id (`123_4`) of job `num` of the sweep (`123` for a sweep of one job), from submitit's folders."""
    names = [p.name for p in (sweep_dir / ".submitit").iterdir()]
    tasks = [n for n in names if re.fullmatch(rf"\d+_{num}", n)] or [n for n in names if re.fullmatch(r"\d+", n)]
    assert len(tasks) == 1, names
    return tasks[0]


def submitted_arrays(sweep_dir: Path) -> set[str]:
    return {p.name.split("_")[0] for p in (sweep_dir / ".submitit").iterdir() if re.fullmatch(r"\d+_\d+", p.name)}


def folder_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".sumexp.lock"
    }


def record(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}


def has_checkpoint(run_dir: Path) -> bool:
    return last_complete_checkpoint(run_dir / "checkpoints") is not None


def wait_until(
    condition, process: subprocess.Popen, timeout: float = 600, what: str = "", release: bool = True
) -> None:
    """Poll `condition` while the sweep runs; a requeued job is started at once instead of after SLURM's delay."""
    deadline = time.monotonic() + hang_limit(timeout)
    while not condition():
        assert process.poll() is None, f"the sweep ended before {what}: " + process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"not in time: {what}"
        if release:
            start_requeued_now()
        time.sleep(0.5)


def start_requeued_now() -> None:
    """SLURM holds a requeued job for about 100 s (reason BeginTime); the tests need not wait for that."""
    queue = subprocess.run(["squeue", "-h", "-r", "-o", "%A %r"], capture_output=True, text=True).stdout
    for line in queue.splitlines():
        job, reason = line.split(maxsplit=1)  # the job's own id, never the array's
        if reason.strip() == "BeginTime":
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], capture_output=True)


def finish(process: subprocess.Popen, timeout: float = 900) -> tuple[str, str]:
    deadline = time.monotonic() + hang_limit(timeout)
    while process.poll() is None:
        assert time.monotonic() < deadline, "the sweep did not end in time"
        start_requeued_now()
        time.sleep(0.5)
    return process.communicate()


def same_result(resumed: dict, undisturbed: dict) -> None:
    assert resumed["status"] == undisturbed["status"] == "completed", (resumed, undisturbed)
    assert resumed["dev_rouge_mean"] == undisturbed["dev_rouge_mean"] and resumed["dev_step"] == undisturbed["dev_step"]
    assert resumed["train_steps"] == undisturbed["train_steps"]
    assert resumed["train_loss"] == pytest.approx(undisturbed["train_loss"], rel=1e-6)


@pytest.mark.slow
def test_a_grid_with_a_preempted_job_and_one_at_its_time_limit_ends_as_an_undisturbed_grid(slurm_cluster, tmp_path):
    """4 jobs, two pairs of the same config (verbose changes nothing computed). Job 0 is pre-empted (SIGUSR2).
    Job 2's time limit is lowered while it trains, to end within 2 minutes: SLURM signals USR2 signal_delay_s
    (120 s) before it. Both are requeued, resume from their checkpoints and end as their twins 1 and 3."""
    # Job 2 must still be training when SLURM's periodic time-limit check (every 30 s) signals it: 2,000 steps, a
    # minute or more on one thread. Checkpoints every 20 steps: job 0 (40 steps) has one to be pre-empted after.
    sweep = start_sweep(tmp_path, "optim.max_steps=40,2000", "verbose=false,true", "optim.eval_steps=20")
    run = [tmp_path / f"{n}_tiny_bart_full" for n in range(4)]
    wait_until(lambda: has_checkpoint(run[0]), sweep, what="job 0 checkpoints")
    preempt(slurm_id(tmp_path, 0), run[0], sweep)
    wait_until(lambda: has_checkpoint(run[2]) and running_job(slurm_id(tmp_path, 2)), sweep, what="job 2 trains")
    job_2, minutes = running_job(slurm_id(tmp_path, 2))
    subprocess.run(["scontrol", "update", f"JobId={job_2}", f"TimeLimit={minutes + 2}"], check=True)
    wait_until(lambda: "requeued" in record(run[2]).get("error", ""), sweep, what="job 2 is requeued", release=False)
    subprocess.run(["scontrol", "update", f"JobId={job_2}", "TimeLimit=20"], check=True)  # for its next attempt
    out, err = finish(sweep)
    assert sweep.returncode == 0, out[-3000:] + err[-3000:]
    records = [record(r) for r in run]
    assert [r.get("attempts") for r in records] == [2, 1, 2, 1], records
    same_result(records[0], records[1])
    same_result(records[2], records[3])
    for resumed in (run[0], run[2]):  # each saved where it stopped, and its next attempt went on from there
        assert "resuming from" in (resumed / "sumexp.log").read_text()
    assert "Bypassing sacct" not in out + err
    report = subprocess.run(
        [sys.executable, "-m", "sumexp.report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=hang_limit(600),
        **REPO_ROOT_ENV,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    assert report.stdout.count("completed (2 attempts)") == 2, report.stdout


def running_job(task: str) -> tuple[str, int] | None:
    """The job id of array task `task` (`123_2`) while it runs, and its whole minutes of run time so far.
    Only a running task has a record of its own: a pending one may share the array's with other tasks."""
    line = subprocess.run(
        ["squeue", "-h", "-r", "-t", "RUNNING", "-o", "%i %A %M"], capture_output=True, text=True
    ).stdout
    for task_id, job, elapsed in (row.split() for row in line.splitlines()):
        if task_id == task:
            parts = [int(p) for p in elapsed.replace("-", ":").split(":")]
            return job, (parts[-2] if len(parts) >= 2 else 0) + 60 * (parts[-3] if len(parts) >= 3 else 0)
    return None


def preempt(job: str, run_dir: Path, sweep: subprocess.Popen) -> None:
    """`scancel --signal=USR2 --full JOB`, until the run says it was requeued. scancel retries a job that turned
    pending under it (requeued) and would signal its next attempt too: it is stopped before that one starts."""
    scancel = subprocess.Popen(["scancel", "--signal=USR2", "--full", job])
    try:
        wait_until(
            lambda: "requeued" in record(run_dir).get("error", ""),
            sweep,
            timeout=300,
            what=f"{job} is requeued",
            release=False,
        )
    finally:
        if scancel.poll() is None:
            scancel.kill()
        scancel.wait()


@pytest.mark.slow
def test_scancel_with_and_without_full_records_interrupted_saves_and_a_plain_rerun_is_refused(slurm_cluster, tmp_path):
    """`scancel --signal=TERM --full` (every process of the job) and a plain `scancel` (the job cancelled) both
    reach the run: it saves, records `interrupted`, and the sweep ends. Re-running the sweep plainly into those
    folders is refused and changes nothing; resume=true continues both (issue 17 §4)."""
    # 400 steps: still training when both have checkpointed, on an idle node with one thread each (32 took 1 s).
    long_enough = "optim.max_steps=400"
    sweep = start_sweep(tmp_path, "optim.lr=1e-3,2e-3", long_enough)
    run = [tmp_path / f"{n}_tiny_bart_full" for n in range(2)]
    wait_until(lambda: all(has_checkpoint(r) for r in run), sweep, what="both jobs checkpoint")
    subprocess.run(["scancel", "--signal=TERM", "--full", slurm_id(tmp_path, 0)], check=True, timeout=hang_limit(60))
    subprocess.run(["scancel", slurm_id(tmp_path, 1)], check=True, timeout=hang_limit(60))
    out, err = finish(sweep, timeout=300)
    assert sweep.returncode == 1 and "2 of 2 jobs did not complete" in err, out[-2000:] + err[-2000:]
    stopped = [record(r) for r in run]
    for stop in stopped:
        assert stop["status"] == "interrupted" and "SIGTERM" in stop["error"] and "resume=true" in stop["error"], stop
    saved = [last_complete_checkpoint(r / "checkpoints") for r in run]
    assert all(saved)
    # The sweep has its records; the cancelled jobs' processes may still be exiting (SLURM's KillWait), holding
    # their folders' locks. A user re-runs once they are gone.
    deadline = time.monotonic() + hang_limit(120)
    while any(lock.is_locked_elsewhere(r) for r in run):
        assert time.monotonic() < deadline, "a cancelled job's process never ended"
        time.sleep(0.5)

    def rerun(*extra):  # the same sweep command again, into the same folders
        command = [sys.executable, "-m", "sumexp", *ON_SLURM, f"hydra.sweep.dir={tmp_path}", *TINY]
        return subprocess.run(
            [*command, "optim.lr=1e-3,2e-3", long_enough, *extra],
            capture_output=True,
            text=True,
            timeout=hang_limit(900),
            **REPO_ROOT_ENV,
        )

    before, arrays = [folder_state(r) for r in run], submitted_arrays(tmp_path)
    again = rerun()
    assert again.returncode == 1, again.stderr[-2000:]
    refusals = [line for line in again.stderr.splitlines() if line.startswith("sumexp: error:")]
    for r in run:  # refused before submitting: one line each, no job, not a file changed (.hydra/ included)
        assert sum(f"{r}: holds an interrupted run with a checkpoint at step" in line for line in refusals) == 1, (
            again.stderr[-3000:]
        )
    assert [folder_state(r) for r in run] == before and [record(r) for r in run] == stopped
    assert submitted_arrays(tmp_path) == arrays
    resumed = rerun("resume=true")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for r, checkpoint in zip(run, saved):
        assert record(r)["status"] == "completed" and f"resuming from {checkpoint}" in (r / "sumexp.log").read_text()


@pytest.mark.slow
def test_a_job_killed_without_a_result_is_failed_and_the_sweep_ends(slurm_cluster, tmp_path):
    """No accounting on this cluster: submitit alone would wait for ever. The job's process is killed, the job
    leaves the queue, the sweep records it failed with the reason within vanished_after_s, and sacct is never asked."""
    sweep = start_sweep(tmp_path)
    run_dir = tmp_path / "0_tiny_bart_full"
    wait_until(lambda: record(run_dir).get("status") == "running", sweep, what="the job runs")
    os.kill(record(run_dir)["pid"], signal.SIGKILL)  # as the OOM killer does; `scancel` would send SIGTERM first
    killed = time.monotonic()
    out, err = finish(sweep, timeout=180)
    assert time.monotonic() - killed < 120
    assert sweep.returncode == 1, out[-2000:] + err[-2000:]
    failed = record(run_dir)
    assert failed["status"] == "failed" and "left the queue without a result" in failed["error"], failed
    assert "Bypassing sacct" not in out + err


@pytest.mark.slow
def test_resources_no_node_has_are_one_line_before_anything_is_submitted(slurm_cluster, tmp_path):
    cpus = int(
        subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()[0].rstrip("+")
    )
    run = sumexp_cli(
        *ON_SLURM,
        f"hydra.sweep.dir={tmp_path}",
        f"hydra.launcher.cpus_per_task={cpus + 1}",
        *QUICK_NO_CHECKPOINT,
        timeout=300,
    )
    expect_one_line_error(
        run, f"hydra.launcher.cpus_per_task={cpus + 1}", "no node of partition", f"at most {cpus} CPUs"
    )
    assert not (tmp_path / ".submitit").exists()


@pytest.mark.slow
def test_a_job_slurm_requeues_is_waited_for_until_its_last_attempt_ends(slurm_cluster, tmp_path):
    """`scontrol requeue`: attempt 1 stops on SIGTERM, records interrupted and leaves a result; the sweep waits
    for attempt 2, which resumes from the checkpoint and completes."""
    sweep = start_sweep(tmp_path)
    run_dir = tmp_path / "0_tiny_bart_full"
    wait_until(lambda: has_checkpoint(run_dir), sweep, what="the job checkpoints")
    subprocess.run(["scontrol", "requeue", slurm_id(tmp_path, 0)], check=True, timeout=hang_limit(60))
    out, err = finish(sweep, timeout=600)
    assert sweep.returncode == 0, out[-3000:] + err[-3000:]
    done = record(run_dir)
    assert done["status"] == "completed" and done["attempts"] == 2, done
    assert "resuming from" in (run_dir / "sumexp.log").read_text()


@pytest.mark.slow
def test_ctrl_c_to_a_slurm_sweep_cancels_its_array_and_waits_for_the_records(slurm_cluster, tmp_path):
    """Two jobs run (one CPU each on a 2-CPU node), the third waits. Ctrl-C to the sweep: both save and record
    interrupted, the third never starts, the summary says so, exit 130 and no traceback. The jobs are long (2,000
    steps; 200 took 5 s on one thread), so that the first is still training when the second checkpoints."""
    sweep = start_sweep(tmp_path, "optim.lr=1e-3,2e-3,3e-3", "optim.max_steps=2000")
    run = [tmp_path / f"{n}_tiny_bart_full" for n in range(3)]
    wait_until(lambda: has_checkpoint(run[0]) and has_checkpoint(run[1]), sweep, what="two jobs checkpoint")
    array = submitted_arrays(tmp_path)
    sweep.send_signal(signal.SIGINT)
    out, err = finish(sweep, timeout=300)
    assert sweep.returncode == 130 and "Traceback" not in out + err, out[-3000:] + err[-3000:]
    assert "cancelling SLURM job array" in err and "sweep stopped by SIGINT" in out, out[-2000:] + err[-2000:]
    for stopped in run[:2]:
        assert record(stopped)["status"] == "interrupted" and has_checkpoint(stopped), record(stopped)
    assert not (run[2] / "metrics.json").exists() and f"{run[2].name:<28} not started" in out
    queue = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True).stdout.split()
    assert not [job for job in queue if job.split("_")[0] in array], queue
