"""The task wrapper every CLI run and sweep job goes through: skip, run, record a failure.

A single run keeps the CLI contract (one line and exit 2 for a user error, a traceback for a bug).
In a sweep a job never raises for its own failure: the failure is recorded in its metrics.json,
and the sweep goes on; the sweep's summary (sumexp/sweep/summary.py) then exits non-zero.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from sumexp.errors import UserError
from sumexp.sweep import records

log = logging.getLogger("sumexp")


def run_task(cfg) -> float | None:
    """Run one experiment in Hydra's output folder; returns dev ROUGE mean (None when it did not complete)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from sumexp.sweep.console import configure_console
    from sumexp.sweep.distributed import is_main_process, setup_distributed

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    configure_console(cfg.verbose)
    done = None if cfg.force else records.completed_record(run_dir, cfg)
    if done is not None:
        print(f"sumexp: skipped {run_dir.name}: it already completed with this config (force=true runs it again)", flush=True)
        return done.get("dev_rouge_mean")
    setup_distributed()
    return _run_and_record(cfg, run_dir, in_sweep, record=is_main_process())


def _run_and_record(cfg, run_dir: Path, in_sweep: bool, record: bool) -> float | None:
    from sumexp.task import run_experiment

    started = time.monotonic()
    try:
        return run_experiment(cfg, run_dir)["dev_rouge_mean"]
    except UserError as err:
        if record:
            records.write_failed(cfg, run_dir, _status_of(err), "input", str(err), time.monotonic() - started)
        print(f"sumexp: error: {err}", file=sys.stderr, flush=True)
        if in_sweep:
            return None
        raise SystemExit(2) from None
    except Exception as err:  # a bug: keep the traceback, and leave a record in the run folder
        if record:
            records.write_failed(cfg, run_dir, "failed", "run", f"{type(err).__name__}: {err}", time.monotonic() - started)
        if in_sweep:
            log.exception("the run failed")  # the traceback goes to this job's log and stderr file
            return None
        raise


def _status_of(err: UserError) -> str:
    """`unsupported` when a backend cannot serve this model or machine, else `failed`."""
    return "unsupported" if any(cls.__name__ == "BackendUnsupported" for cls in type(err).__mro__) else "failed"
