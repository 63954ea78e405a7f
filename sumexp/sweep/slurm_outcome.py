"""What the sweep makes of a SLURM job that ended: its own JobReturn, or a record of why there is none."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from sumexp.errors import first_line, say_error
from sumexp.run import record as run_record
from sumexp.schema import task_config
from sumexp.sweep.slurm_sealed import SealedResult


def job_return(job, config, run_dir: Path, vanished: bool, secrets: list[str], stopped_by=None):
    """The job's own JobReturn, or one for a job that ended without it (its record then says why)."""
    if not vanished:
        try:
            result = job.results()[0]
            result = result.open(secrets) if isinstance(result, SealedResult) else result
            if result is not None:
                return result
            reason = "its attempt ended before Hydra set the job up"
        except Exception as err:  # noqa: BLE001 - the job's own failure, reported by submitit
            reason = first_line(err)
    elif stopped_by is not None:
        reason = f"the sweep was stopped by {stopped_by.name} and SLURM job {job.job_id} ended without a result"
    else:
        reason = (
            f"SLURM job {job.job_id} left the queue without a result (cancelled, killed, or its node was "
            f"lost before the run could record it)"
        )
    status = run_record.INTERRUPTED if stopped_by is not None else run_record.FAILED
    record_failure(config, run_dir, f"{reason}; see {job.paths.stderr}", status)
    return plain_return(config, None)


def plain_return(config, value):
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


def record_failure(config, run_dir: Path, reason: str, status: str = run_record.FAILED) -> None:
    """Record `status` unless the run already said how it stopped (interrupted, failed, completed)."""
    metrics = run_record.read_metrics(run_dir)
    say_error(f"{run_dir.name}: {reason}")
    if metrics is not None and metrics.get("status") != run_record.RUNNING:
        return
    task_cfg = task_config(config)
    if "model" in task_cfg and "backend" in task_cfg:  # a sumexp run; another app's config has no record
        run_dir.mkdir(parents=True, exist_ok=True)
        run_record.write_failed(task_cfg, run_dir, status, "slurm", reason, 0.0)
