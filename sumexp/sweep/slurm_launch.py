"""Submit a sweep as one SLURM job array and wait for it, never for ever.

submitit waits for a job until `sacct` calls it finished; without accounting (many small clusters) it
never does, so a job killed before it wrote its result would keep the sweep waiting for ever, printing
`Bypassing sacct error` at every poll. This wait reads the jobs' result files and `squeue` only: a job
that left the queue without a result is recorded as failed, with the reason and its log.

Each job's python is the batch script itself (`exec`, no `srun`) when it runs one task: a signal to the
whole job (`scancel`, `scancel --full`, the time limit's `--signal=B:USR2`) then reaches the run, and no
`srun` kills it first (docs/sweeps.md, "SLURM").
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import OmegaConf, open_dict

from sumexp.errors import first_line, say_error
from sumexp.run import record as run_record
from sumexp.schema import task_config
from sumexp.sweep.slurm_fit import refuse_unfit

log = logging.getLogger(__name__)
OWN_KEYS = ("vanished_after_s", "poll_s")  # this launcher's, not submitit's


def launch_array(launcher, job_overrides, initial_job_idx: int) -> list:
    from hydra.core.singleton import Singleton
    from hydra.core.utils import filter_overrides

    params = dict(launcher.params)
    vanished_after_s, poll_s = (params.pop(key) for key in OWN_KEYS)
    refuse_unfit(params)
    executor = _executor(params)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log.info(f"Submitit 'slurm' sweep output dir : {sweep_dir}")
    job_params, configs, returns = [], [], {}
    for position, overrides in enumerate(job_overrides):
        num = initial_job_idx + position
        log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
        config, run_dir = _job_config(launcher, overrides, num)
        verdict = _verdict(config, run_dir)
        if verdict is not None and verdict.action != "start":  # decided here: no SLURM job, no .hydra/ rewritten
            _say(verdict, run_dir)
            returns[position] = _plain_return(config, (verdict.record or {}).get("dev_rouge_mean"))
            continue
        job_params.append((list(overrides), "hydra.sweep.dir", num, f"job_id_for_{num}", Singleton.get_state()))
        configs.append((position, config, run_dir))
    jobs = executor.map_array(launcher, *zip(*job_params)) if job_params else []
    vanished = wait_for(jobs, vanished_after_s, poll_s)
    for job, (position, config, run_dir) in zip(jobs, configs):
        returns[position] = _job_return(job, config, run_dir, job in vanished)
    return [returns[position] for position in range(len(job_overrides))]


def _executor(params: dict):
    """submitit's SLURM executor, as hydra-submitit-launcher builds it, running python as the batch script."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    single_task = params.get("tasks_per_node", 1) == 1 and params.get("nodes", 1) == 1
    executor = submitit.AutoExecutor(
        cluster="slurm",
        folder=params.pop("submitit_folder"),
        slurm_max_num_timeout=params.pop("max_num_timeout"),
        slurm_python=("exec " if single_task else "") + shlex.quote(sys.executable),
    )
    if single_task:  # the batch shell is the run: signal it (B:), there is no job step to signal
        extra = {"signal": f"B:USR2@{params.get('signal_delay_s', 120)}", **(params.get("additional_parameters") or {})}
        params = {**params, "additional_parameters": extra, "use_srun": False}
    else:  # a rank that fails before the group forms would leave the others waiting for it until the time limit
        params = {**params, "srun_args": ["--kill-on-bad-exit=1", *(params.get("srun_args") or [])]}
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{key if key in base else f"slurm_{key}": value for key, value in params.items()})
    return executor


def wait_for(jobs: list, vanished_after_s: float, poll_s: float) -> set:
    """Wait until every job has a result or has left the queue without one; returns the latter."""
    pending, vanished, missing_since = set(jobs), set(), {}
    while pending:
        pending = {job for job in pending if not job.paths.result_pickle.exists()}
        queued = in_queue() if pending else set()
        now = time.monotonic()
        for job in list(pending):
            if queued is None or job.job_id in queued or job.job_id.split("_")[0] in queued:  # a 1-task array: `123`
                missing_since.pop(job, None)
            elif now - missing_since.setdefault(job, now) >= vanished_after_s and not job.paths.result_pickle.exists():
                pending.discard(job)
                vanished.add(job)
        if pending:
            time.sleep(poll_s)
    return vanished


def in_queue() -> set[str] | None:
    """The ids (array tasks one by one, as `123_4`) of this user's jobs SLURM still holds; None if squeue fails."""
    try:
        out = subprocess.run(
            ["squeue", "--me", "-h", "-r", "-o", "%i"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(out.stdout.split()) if out.returncode == 0 else None


def _job_config(launcher, overrides, num: int):
    from hydra.core.hydra_config import HydraConfig

    config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
    with open_dict(config):
        config.hydra.job.num = num
    HydraConfig.instance().set_config(config)  # the folder's name may use hydra.job.num and the choices
    return config, Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)


def _job_return(job, config, run_dir: Path, vanished: bool):
    """The job's own JobReturn, or one for a job that ended without it (its record then says why)."""
    if not vanished:
        try:
            result = job.results()[0]
            if result is not None:
                return result
            reason = "its attempt ended before Hydra set the job up"
        except Exception as err:  # noqa: BLE001 - the job's own failure, reported by submitit
            reason = first_line(err)
    else:
        reason = (
            f"SLURM job {job.job_id} left the queue without a result (cancelled, killed, or its node was "
            f"lost before the run could record it)"
        )
    _record_failure(config, run_dir, f"{reason}; see {job.paths.stderr}")
    return _plain_return(config, None)


def _plain_return(config, value):
    """A JobReturn for a job that did not report one (not submitted, or gone); its record says what happened."""
    from hydra.core.utils import JobReturn, JobStatus

    return JobReturn(
        overrides=OmegaConf.to_container(config.hydra.overrides.task),
        cfg=task_config(config),
        hydra_cfg=config,
        working_dir=os.getcwd(),
        task_name=config.hydra.job.name,
        status=JobStatus.COMPLETED,
        _return_value=value,
    )


def _verdict(config, run_dir: Path):
    """What the job's folder allows (sumexp/run/folder.py), decided before submitting; None for another app."""
    from sumexp.run.folder import assess

    task_cfg = task_config(config)
    if "model" not in task_cfg or "backend" not in task_cfg or not run_dir.is_dir():
        return None
    return assess(run_dir, task_cfg)


def _say(verdict, run_dir: Path) -> None:
    if verdict.action == "skip":
        print(verdict.message, flush=True)
        return
    say_error(verdict.message)
    from sumexp.sweep import launching

    refused = getattr(launching, "REFUSED", None)  # where the sweep's summary looks for refused jobs, when it does
    if refused is not None:
        refused[run_dir.name] = verdict.message


def _record_failure(config, run_dir: Path, reason: str) -> None:
    """Record `failed` unless the run already said how it stopped (interrupted, failed, completed)."""
    metrics = run_record.read_metrics(run_dir)
    say_error(f"{run_dir.name}: {reason}")
    if metrics is not None and metrics.get("status") != run_record.RUNNING:
        return
    task_cfg = task_config(config)
    if "model" in task_cfg and "backend" in task_cfg:  # a sumexp run; another app's config has no record
        run_dir.mkdir(parents=True, exist_ok=True)
        run_record.write_failed(task_cfg, run_dir, run_record.FAILED, "slurm", reason, 0.0)
