"""The local launcher's work: each job in a fresh Python process, at most `max_parallel` at a time.

A fresh process per job means a library patch (unsloth patches transformers globally), leaked
memory or a crash cannot reach the next job, and each job's peak memory is its own. A job's
stdout and stderr go to stdout.log and stderr.log in its folder; the terminal shows the sweep.
Jobs whose folder already holds a completed run of the same config are skipped without a process.
"""
from __future__ import annotations

import copy
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from sumexp.sweep import records

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2


@dataclass
class Job:
    position: int  # 0-based place in this launch
    config: DictConfig  # the composed sweep config, hydra node included
    run_dir: Path

    @property
    def number(self) -> int:
        """1-based, across every launch of the sweep."""
        return self.config.hydra.job.num + 1

    @property
    def task_config(self) -> DictConfig:
        cfg = copy.deepcopy(self.config)
        with read_write(cfg), open_dict(cfg):
            del cfg["hydra"]
        return cfg


def launch_jobs(launcher, job_overrides, initial_job_idx: int) -> list[JobReturn]:
    """Skip what is done, run the rest in child processes; one JobReturn per job, in order."""
    setup_globals()
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    jobs = [_compose_job(launcher, overrides, initial_job_idx + i, i) for i, overrides in enumerate(job_overrides)]
    progress = Progress(initial_job_idx + len(jobs))  # Optuna launches a batch at a time: count them all
    progress.say(f"sweep of {len(jobs)} job(s) in {sweep_dir}, {launcher.max_parallel} at a time; "
                 "each job's output is in its folder")
    returns: dict[int, JobReturn] = {}
    to_run = []
    for job in jobs:
        done = None if job.config.get("force") else records.completed_record(job.run_dir, job.task_config)
        if done is None:
            to_run.append(job)
        else:
            progress.finished(job, "skipped (already completed with this config)", done)
            returns[job.position] = _job_return(job, done.get("dev_rouge_mean"))
    returns.update(_run_in_processes(launcher, to_run, sweep_dir / ".launcher", progress))
    return [returns[i] for i in range(len(jobs))]


def _compose_job(launcher, overrides, num: int, position: int) -> Job:
    config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
    with open_dict(config):
        config.hydra.job.id = num
        config.hydra.job.num = num
    HydraConfig.instance().set_config(config)  # the folder's name may use hydra.job.num and choices
    run_dir = Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)
    return Job(position, config, run_dir.resolve())


def _run_in_processes(launcher, jobs: list[Job], work_dir: Path, progress: "Progress") -> dict[int, JobReturn]:
    import cloudpickle

    work_dir.mkdir(parents=True, exist_ok=True)
    queue, running, returns = deque(jobs), {}, {}
    singletons = Singleton.get_state()
    try:
        while queue or running:
            while queue and len(running) < launcher.max_parallel:
                job = queue.popleft()
                running[job.position] = (job, _start(launcher, job, work_dir, singletons, cloudpickle), time.monotonic())
                progress.started(job)
            time.sleep(POLL_SECONDS)
            for position, (job, proc, started) in list(running.items()):
                if proc.poll() is not None:
                    del running[position]
                    returns[position] = _finish(job, proc.returncode, work_dir, time.monotonic() - started, progress)
    finally:
        _stop(running.values())
    if not any(work_dir.iterdir()):
        work_dir.rmdir()
    return returns


def _stop(running) -> None:
    """The sweep itself was stopped: end the children this launcher started and mark their runs."""
    for _, proc, _ in running:
        proc.terminate()  # SIGTERM: what SLURM sends too, so a run treats both alike
    for job, proc, started in running:
        proc.wait()
        metrics = records.read_metrics(job.run_dir)
        if metrics is None or metrics.get("status") == "running":
            records.write_failed(job.task_config, job.run_dir, "interrupted", "process", "the sweep was stopped",
                                 time.monotonic() - started)


def _paths(work_dir: Path, job: Job) -> tuple[Path, Path]:
    num = job.config.hydra.job.num
    return work_dir / f"job_{num}.pkl", work_dir / f"job_{num}.return.pkl"


def _start(launcher, job: Job, work_dir: Path, singletons, cloudpickle) -> subprocess.Popen:
    job_file, return_file = _paths(work_dir, job)
    return_file.unlink(missing_ok=True)
    with open(job_file, "wb") as handle:
        cloudpickle.dump({"hydra_context": launcher.hydra_context, "task_function": launcher.task_function,
                          "config": job.config, "singletons": singletons}, handle)
    job.run_dir.mkdir(parents=True, exist_ok=True)
    with open(job.run_dir / "stdout.log", "w") as out, open(job.run_dir / "stderr.log", "w") as err:
        return subprocess.Popen([sys.executable, "-m", "sumexp.sweep.child", str(job_file), str(return_file)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _finish(job: Job, returncode: int, work_dir: Path, seconds: float, progress: "Progress") -> JobReturn:
    """The child's JobReturn; a child that died without one is recorded as failed in its metrics.json."""
    import cloudpickle

    job_file, return_file = _paths(work_dir, job)
    job_file.unlink(missing_ok=True)
    if return_file.is_file():
        with open(return_file, "rb") as handle:
            result = cloudpickle.load(handle)
        return_file.unlink()
    else:
        result = None
        metrics = records.read_metrics(job.run_dir)
        if metrics is None or metrics.get("status") == "running":
            records.write_failed(job.task_config, job.run_dir, "failed", "process", _death(returncode), seconds)
    metrics = records.read_metrics(job.run_dir) or {}
    progress.finished(job, metrics.get("status", "unknown"), metrics, seconds)
    return result if result is not None else _job_return(job, None)


def _death(returncode: int) -> str:
    if returncode < 0:
        return f"the job's process was killed by {signal.Signals(-returncode).name}; see its stderr.log"
    return f"the job's process exited with status {returncode} before finishing; see its stderr.log"


def _job_return(job: Job, value) -> JobReturn:
    """A JobReturn for a job that did not report one itself (skipped, or its process died)."""
    overrides = OmegaConf.to_container(job.config.hydra.overrides.task)
    return JobReturn(overrides=overrides, cfg=job.task_config, hydra_cfg=job.config, working_dir=os.getcwd(),
                     task_name=job.config.hydra.job.name, status=JobStatus.COMPLETED, _return_value=value)


class Progress:
    """The sweep's lines on the terminal: one when a job starts, one when it ends."""

    def __init__(self, total: int):
        self.total = total

    def say(self, text: str) -> None:
        print(f"sumexp: {text}", flush=True)

    def started(self, job: Job) -> None:
        self.say(f"[{job.number}/{self.total}] {job.run_dir.name}: started")

    def finished(self, job: Job, outcome: str, metrics: dict, seconds: float | None = None) -> None:
        score = metrics.get("dev_rouge_mean")
        detail = f", dev ROUGE mean {score:.2f}" if isinstance(score, (int, float)) else ""
        if metrics.get("error") and metrics.get("status") != "completed":
            detail += f": {metrics['error']}"
        took = f" in {seconds:.0f} s" if seconds is not None else ""
        self.say(f"[{job.number}/{self.total}] {job.run_dir.name}: {outcome}{took}{detail}")
