"""The local launcher's work: each job in a fresh Python process, at most `max_parallel` at a time.

A fresh process per job means a library patch (unsloth patches transformers globally), leaked
memory or a crash cannot reach the next job, and each job's peak memory is its own. A job's
stdout and stderr go to stdout.log and stderr.log in its folder; the terminal shows the sweep.
Jobs whose folder already holds a completed run of the same config are skipped without a process.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict

from sumexp.run import record as run_record
from sumexp.sweep import job_files
from sumexp.sweep.progress import Progress
from sumexp.sweep.stopping import StopSignals, SweepStopped, forwarded

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2
# Jobs of this sweep refused by their folder (job folder name -> the one-line reason), for the summary:
# a refused job leaves its folder's record as it was, so the record cannot say it.
REFUSED: dict[str, str] = {}


@dataclass
class Job:
    position: int  # 0-based place in this launch
    config: DictConfig  # the composed sweep config, hydra node included
    run_dir: Path
    secrets: list[str] = field(default_factory=list)  # left out of its files, handed over in its environment

    @property
    def number(self) -> int:
        """1-based, across every launch of the sweep."""
        return self.config.hydra.job.num + 1

    @property
    def task_config(self) -> DictConfig:
        from sumexp.schema import task_config

        return task_config(self.config)


def launch_jobs(launcher, job_overrides, initial_job_idx: int) -> list[JobReturn]:
    """Skip what is done, run the rest in child processes; one JobReturn per job, in order.

    A stop signal ends the running jobs (each records `interrupted`), starts no other, runs the
    end-of-sweep callbacks (the summary says which jobs did not start) and exits with 128+signal.
    """
    setup_globals()
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with StopSignals() as stop:
        jobs = [_compose_job(launcher, overrides, initial_job_idx + i, i) for i, overrides in enumerate(job_overrides)]
        progress = _progress(launcher, sweep_dir, initial_job_idx + len(jobs))
        returns: dict[int, JobReturn] = {}
        to_run = []
        for job in jobs:
            verdict = _verdict(job)
            if verdict.action == "start":
                to_run.append(job)
            elif verdict.action == "skip":
                progress.finished(job, "skipped (already completed with this config)", verdict.record)
                returns[job.position] = _job_return(job, verdict.record.get("dev_rouge_mean"))
            else:  # decided before the job's process exists, so its folder (.hydra/ included) stays as it was
                REFUSED[job.run_dir.name] = verdict.message
                progress.finished(job, f"refused: {verdict.message}", {})
                returns[job.position] = _job_return(job, None)
        try:
            returns.update(_run_in_processes(launcher, to_run, sweep_dir / ".launcher", progress, stop))
        except SweepStopped as stopped:
            launcher.hydra_context.callbacks.on_multirun_end(config=launcher.config, stopped=stopped)
            raise SystemExit(stopped.exit_status) from None
    return [returns[i] for i in range(len(jobs))]


def _verdict(job: Job):
    """What the job's folder allows (sumexp/run/folder.py); another Hydra app's job always starts."""
    from sumexp.run.folder import Verdict, assess

    return assess(job.run_dir, job.task_config) if _is_sumexp_config(job.config) else Verdict("start")


def _progress(launcher, sweep_dir: Path, jobs_so_far: int) -> Progress:
    """One Progress per sweep: a sweeper that launches a batch at a time (Optuna) gets one header, not one per batch."""
    progress = getattr(launcher, "progress", None)
    planned = max(jobs_so_far, getattr(launcher, "planned_jobs", 0) or 0)
    if progress is None:
        progress = launcher.progress = Progress(planned)
        progress.say(
            f"sweep of {planned} job(s) in {sweep_dir}, {launcher.max_parallel} at a time; "
            "each job's output is in its folder"
        )
    progress.total = max(progress.total, planned)
    return progress


def _compose_job(launcher, overrides, num: int, position: int) -> Job:
    config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
    with open_dict(config):
        config.hydra.job.id = num
        config.hydra.job.num = num
    HydraConfig.instance().set_config(config)  # the folder's name may use hydra.job.num and choices
    run_dir = Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)
    return Job(position, config, run_dir.resolve())


def _run_in_processes(
    launcher, jobs: list[Job], work_dir: Path, progress: Progress, stop: StopSignals
) -> dict[int, JobReturn]:
    work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    queue, running, returns = deque(jobs), {}, {}
    singletons = Singleton.get_state()
    forwarded_signals = 0
    try:
        while running or (queue and not stop.received):
            while queue and not stop.received and len(running) < launcher.max_parallel:
                job = queue.popleft()
                running[job.position] = (job, _start(launcher, job, work_dir, singletons), time.monotonic())
                progress.started(job)
            for signum in stop.received[forwarded_signals:]:  # each stop of the sweep reaches each job once
                for _, proc, _ in running.values():
                    proc.send_signal(forwarded(signum))
            forwarded_signals = len(stop.received)
            time.sleep(POLL_SECONDS)
            for position, (job, proc, started) in list(running.items()):
                if proc.poll() is not None:
                    del running[position]
                    returns[position] = _finish(
                        job, proc.returncode, work_dir, time.monotonic() - started, progress, stopped_by=stop.first
                    )
    finally:
        _stop(running.values())  # only on a bug in this loop: the jobs must not outlive the sweep
        _remove_job_files(work_dir, jobs)
    if stop.received:
        raise SweepStopped(stop.first, [job.run_dir.name for job in queue])
    return returns


def _stop(running) -> None:
    """End the children this launcher started and mark their runs (the sweep itself failed)."""
    for _, proc, _ in running:
        proc.terminate()  # SIGTERM: what SLURM sends too, so a run treats both alike
    for job, proc, started in running:
        proc.wait()
        _mark_unrecorded(job, run_record.INTERRUPTED, "the sweep was stopped", time.monotonic() - started)


def _mark_unrecorded(job: Job, status: str, error: str, seconds: float) -> None:
    """Record how a job ended when its process could not: sumexp's jobs only (the plugin serves any Hydra app)."""
    if not _is_sumexp_config(job.config):
        return
    metrics = run_record.read_metrics(job.run_dir)
    if metrics is None or metrics.get("status") == run_record.RUNNING:
        run_record.write_failed(job.task_config, job.run_dir, status, "process", error, seconds)


def _is_sumexp_config(config: DictConfig) -> bool:
    """True for sumexp's run config: the launcher is found by every Hydra app in the environment."""
    return all(OmegaConf.select(config, key) is not None for key in ("model.name", "backend.name"))


def _paths(work_dir: Path, job: Job) -> tuple[Path, Path]:
    num = job.config.hydra.job.num
    return work_dir / f"job_{num}.pkl", work_dir / f"job_{num}.return.pkl"


def _remove_job_files(work_dir: Path, jobs: list[Job]) -> None:
    """Every exit path of a launch removes its jobs' files, and the folder once it is empty."""
    for job in jobs:
        for path in _paths(work_dir, job):
            for leftover in (path, path.with_name(path.name + ".tmp")):
                leftover.unlink(missing_ok=True)
    if work_dir.is_dir() and not any(work_dir.iterdir()):
        work_dir.rmdir()


def _start(launcher, job: Job, work_dir: Path, singletons) -> subprocess.Popen:
    job_file, return_file = _paths(work_dir, job)
    return_file.unlink(missing_ok=True)
    job.secrets = job_files.find_job_secrets(job.config)
    job_files.dump(
        job_file,
        {
            "hydra_context": launcher.hydra_context,
            "task_function": launcher.task_function,
            "config": job.config,
            "singletons": singletons,
        },
        job.secrets,
    )
    job.run_dir.mkdir(parents=True, exist_ok=True)
    with open(job.run_dir / "stdout.log", "w") as out, open(job.run_dir / "stderr.log", "w") as err:
        # A session of its own: only this launcher signals the job (sumexp/sweep/stopping.py says why).
        return subprocess.Popen(
            [sys.executable, "-m", "sumexp.sweep.child", str(job_file), str(return_file), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **job_files.secret_environment(job.secrets)},
        )


def _finish(
    job: Job,
    returncode: int,
    work_dir: Path,
    seconds: float,
    progress: Progress,
    stopped_by: signal.Signals | None = None,
) -> JobReturn:
    """The child's JobReturn; a child that died without one is recorded in its metrics.json (a stopped sweep: interrupted)."""
    job_file, return_file = _paths(work_dir, job)
    job_file.unlink(missing_ok=True)
    result = None
    if return_file.is_file():
        result = job_files.load(return_file, job.secrets)
        return_file.unlink()
    elif stopped_by is not None:
        _mark_unrecorded(job, run_record.INTERRUPTED, f"the sweep was stopped by {stopped_by.name}", seconds)
    else:
        _mark_unrecorded(job, run_record.FAILED, _death(returncode), seconds)
    metrics = run_record.read_metrics(job.run_dir) or (
        {} if result is not None else {"status": run_record.FAILED, "error": _death(returncode)}
    )
    progress.finished(job, metrics.get("status", "finished"), metrics, seconds)
    if result is not None:
        return result
    return _job_return(job, None) if _is_sumexp_config(job.config) else _failed_return(job, returncode)


def _death(returncode: int) -> str:
    if returncode < 0:
        return f"the job's process was killed by {signal.Signals(-returncode).name}; see its stderr.log"
    return f"the job's process exited with status {returncode} before finishing; see its stderr.log"


def _job_return(job: Job, value) -> JobReturn:
    """A JobReturn for a job that did not report one itself (skipped, or its process died)."""
    overrides = OmegaConf.to_container(job.config.hydra.overrides.task)
    return JobReturn(
        overrides=overrides,
        cfg=job.task_config,
        hydra_cfg=job.config,
        working_dir=os.getcwd(),
        task_name=job.config.hydra.job.name,
        status=JobStatus.COMPLETED,
        _return_value=value,
    )


def _failed_return(job: Job, returncode: int) -> JobReturn:
    """Another Hydra app's job whose process died: failed, as Hydra's own launchers report it."""
    result = _job_return(job, RuntimeError(_death(returncode)))
    result.status = JobStatus.FAILED
    return result
