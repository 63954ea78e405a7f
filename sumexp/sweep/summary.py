"""The end of a sweep: one line per job, and a non-zero exit when any job did not complete.

A Hydra callback, so it runs in the submitting process whatever the launcher (local processes,
SLURM). It reads the jobs' metrics.json, since jobs record their failures instead of raising them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.experimental.callback import Callback

from sumexp.errors import say_error
from sumexp.run import record as run_record
from sumexp.run.listing import load_runs


class SweepSummary(Callback):
    def on_multirun_end(self, config, stopped=None, **kwargs) -> None:
        """`stopped` (a SweepStopped) comes from the local launcher when a signal ended the sweep; it then exits 128+signal."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        runs = [_with_refusal(run) for run in load_runs([sweep_dir])]
        print(
            f"sumexp: sweep {'stopped by ' + stopped.signal.name if stopped else 'finished'}: {sweep_dir}", flush=True
        )
        for run in runs:
            print(job_line(run), flush=True)
        for name in stopped.not_started if stopped else ():
            print(f"  {name:<28} not started", flush=True)
        print(f"sumexp: compare them: python -m sumexp.report {sweep_dir}", flush=True)
        unfinished = [run["run"] for run in runs if run["status"] != run_record.COMPLETED]
        if stopped:
            print(
                f"sumexp: {stopped}: {len(unfinished)} job(s) did not complete, {len(stopped.not_started)} did not start; "
                "the same command with resume=true runs what is left (completed jobs are skipped, interrupted ones "
                "continue from their checkpoints)",
                file=sys.stderr,
                flush=True,
            )
        elif unfinished:
            say_error(
                f"{len(unfinished)} of {len(runs)} jobs did not complete ({', '.join(unfinished)}); "
                "each job's metrics.json has its error and its stderr.log the details"
            )
            raise SystemExit(1)  # a SystemExit passes through Hydra's callback guard; no traceback


def _with_refusal(run: dict) -> dict:
    """A job the local launcher refused to start: its folder's record belongs to an earlier run."""
    from sumexp.sweep.launching import REFUSED

    if run["run"] not in REFUSED:
        return run
    return {
        **run,
        "status": run_record.REFUSED,
        "error": REFUSED[run["run"]],
        "dev_rouge_mean": None,
        "run_seconds": None,
    }


def job_line(run: dict) -> str:
    """`  3_tiny_t5_lora  completed  ROUGE mean 41.20  38 s`, or the status and error of a job that did not complete."""
    score = run.get("dev_rouge_mean")
    rouge = f"ROUGE mean {score:6.2f}" if isinstance(score, (int, float)) else "ROUGE mean    n/a"
    seconds = run.get("run_seconds")
    took = f"{seconds:6.0f} s" if isinstance(seconds, (int, float)) else "     ? s"
    line = f"  {run['run']:<28} {run['status']:<11} {rouge}  {took}"
    return f"{line}  {run['error']}" if run.get("error") and run["status"] != run_record.COMPLETED else line
