"""Submit a sweep as one SLURM job array and wait for it, never for ever.

submitit waits for a job until `sacct` calls it finished; without accounting (many small clusters) it
never does, so a job killed before it wrote its result would keep the sweep waiting for ever, printing
`Bypassing sacct error` at every poll. This wait reads the jobs' result files and `squeue` only: a job
is finished once it has left the queue (a requeued job left the result of an attempt and is back in it),
and one that left without a result is recorded as failed, with the reason and its log.

submitit is handed sealed calls (sumexp/sweep/slurm_sealed.py), so that no secret reaches its pickles, and
a stop of the sweep cancels the array (sumexp/sweep/slurm_stop.py).

Each job's python is the batch script itself (`exec`, no `srun`) when it runs one task: a signal to the
whole job (`scancel`, `scancel --full`, the time limit's `--signal=B:USR2`) then reaches the run, and no
`srun` kills it first (docs/sweeps.md, "SLURM").
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
import time
from itertools import zip_longest
from pathlib import Path

from omegaconf import OmegaConf, open_dict

from sumexp.errors import say_error
from sumexp.schema import task_config
from sumexp.security.secrets import redact
from sumexp.sweep import job_files
from sumexp.sweep.slurm_fit import refuse_short_time_limit, refuse_unfit
from sumexp.sweep.slurm_outcome import job_return, plain_return
from sumexp.sweep.slurm_sealed import SealedCall, secrets_in_environment
from sumexp.sweep.slurm_stop import ArrayStop
from sumexp.sweep.stopping import StopSignals, SweepStopped

log = logging.getLogger(__name__)
OWN_KEYS = ("vanished_after_s", "poll_s")  # this launcher's, not submitit's


def launch_array(launcher, job_overrides, initial_job_idx: int) -> list:
    """Submit the jobs no folder decided as one array, wait for them; one JobReturn per job, in order.

    A stop signal cancels the array (sumexp/sweep/slurm_stop.py), waits for the jobs' records, runs the
    end-of-sweep callbacks (the summary says which jobs did not start) and exits with 128+signal.
    """
    params = dict(launcher.params)
    vanished_after_s, poll_s = (params.pop(key) for key in OWN_KEYS)
    refuse_short_time_limit(params)
    refuse_unfit(params)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    owner_only(params["submitit_folder"])
    executor = _executor(params)
    log.info(f"Submitit 'slurm' sweep output dir : {sweep_dir}")
    with StopSignals() as signals:
        stop = ArrayStop(signals)
        returns, submissions = _prepare(launcher, job_overrides, initial_job_idx)
        # One sbatch, one environment for every job; the sweep's own config is in each job's pickle too.
        secrets = job_files.find_job_secrets(launcher.config)
        secrets = sorted({*secrets, *(secret for *_, job_secrets in submissions for secret in job_secrets)})
        jobs = []
        if submissions and not stop.stopped:
            calls = [SealedCall.seal(launcher, args, secrets) for args, *_ in submissions]
            with secrets_in_environment(secrets):  # sbatch hands its environment to the jobs
                jobs = executor.submit_array(calls)
            stop.submitted(jobs)
        vanished = wait_for(jobs, vanished_after_s, poll_s, stop)
        not_started = []
        for job, (_, position, config, run_dir, _) in zip_longest(jobs, submissions):
            if job is None or (stop.stopped and not job.paths.stdout.exists()):  # cancelled before it started
                not_started.append(run_dir.name)
                returns[position] = plain_return(config, None)
            else:
                returns[position] = job_return(job, config, run_dir, job in vanished, secrets, signals.first)
    if stop.stopped:
        stopped = SweepStopped(signals.first, not_started)
        launcher.hydra_context.callbacks.on_multirun_end(config=launcher.config, stopped=stopped)
        raise SystemExit(stopped.exit_status)
    return [returns[position] for position in range(len(job_overrides))]


def _prepare(launcher, job_overrides, initial_job_idx: int) -> tuple[dict, list]:
    """The returns of the jobs decided here (skipped, refused), and the rest to submit with their secrets."""
    from hydra.core.singleton import Singleton
    from hydra.core.utils import filter_overrides

    returns, submissions = {}, []
    for position, overrides in enumerate(job_overrides):
        num = initial_job_idx + position
        config, run_dir = _job_config(launcher, overrides, num)
        secrets = job_files.find_job_secrets(config)
        log.info(redact(f"\t#{num} : {' '.join(filter_overrides(overrides))}", secrets))
        verdict = _verdict(config, run_dir)
        if verdict is not None and verdict.action != "start":  # decided here: no SLURM job, no .hydra/ rewritten
            _say(verdict, run_dir)
            returns[position] = plain_return(config, (verdict.record or {}).get("dev_rouge_mean"))
            continue
        args = (list(overrides), "hydra.sweep.dir", num, f"job_id_for_{num}", Singleton.get_state())
        submissions.append((args, position, config, run_dir, secrets))
    return returns, submissions


def owner_only(submitit_folder: str) -> None:
    """submitit's folder for the sweep (`.submitit/`, above the `%j` of each job) is its owner's alone."""
    prefix = submitit_folder.split("%", 1)[0]
    folder = Path(prefix) if "%" not in submitit_folder or prefix.endswith("/") else Path(prefix).parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)


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


def wait_for(jobs: list, vanished_after_s: float, poll_s: float, stop: ArrayStop | None = None) -> set:
    """Wait until every job has left the queue (with a result, or without one for `vanished_after_s`);
    returns the latter. A result alone is not the end: a job SLURM requeued wrote one at the end of its
    attempt, and is back in the queue for the next."""
    pending, vanished, missing_since = set(jobs), set(), {}
    while pending:
        if stop is not None:
            stop.forward()
        queued = in_queue()
        now = time.monotonic()
        for job in list(pending):
            has_result = job.paths.result_pickle.exists()
            if queued is None:  # squeue did not answer: a result is the best sign there is
                if has_result:
                    pending.discard(job)
            elif job.job_id in queued or job.job_id.split("_")[0] in queued:  # a 1-task array: `123`
                missing_since.pop(job, None)
            elif has_result:
                pending.discard(job)
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
