"""The task wrapper every CLI run and sweep job goes through: skip, run, record how it stopped.

A single run keeps the CLI contract: one line and exit 2 for a user error, 128+signal for an
interruption, a traceback for a bug. In a sweep a job never raises for its own failure: the
failure is recorded in its metrics.json and the sweep goes on; the sweep's summary
(sumexp/sweep/summary.py) then exits non-zero.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from sumexp.app import hydra_saves
from sumexp.errors import RunInterrupted, StopSignal, UserError, say, say_error
from sumexp.run import record as run_record
from sumexp.run.disk import disk_full, free_incomplete_files
from sumexp.schema import register_resolvers

log = logging.getLogger("sumexp")
# A sweep job may run in a fresh process (the local launcher, SLURM) that never imported the CLI: its folder
# name still has to resolve, and Hydra's saves of its .hydra/ still have to be whole. Every process that runs
# a job imports this module (unpickling the task function does) before Hydra saves anything.
register_resolvers()
hydra_saves.install()


def run_task(cfg) -> float | None:
    """Run one experiment in Hydra's output folder; returns dev ROUGE mean (None when it did not complete)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from sumexp.run.console import configure_console
    from sumexp.run.distributed import is_main_process, setup_distributed
    from sumexp.security.overrides import with_secrets_restored

    cfg = with_secrets_restored(cfg)  # the command line's secrets, kept out of Hydra and its files
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    configure_console(cfg.verbose)
    setup_distributed()
    if is_main_process():
        from sumexp.run.folder import claim

        verdict = claim(run_dir, cfg)
        if verdict.action == "skip":
            print(verdict.message, flush=True)
            return verdict.record.get("dev_rouge_mean")
        if verdict.action == "refuse":  # nothing was written: the folder stays as it was
            say_error(verdict.message)
            if in_sweep:
                return None
            raise SystemExit(2)
    else:  # data parallel: rank 0 owns the folder; the others only skip along with it
        done = None if cfg.force else run_record.completed_record(run_dir, cfg)
        if done is not None:
            return done.get("dev_rouge_mean")
    outcome = Outcome(cfg, run_dir, in_sweep=in_sweep, record=is_main_process())
    return outcome.run()


class Outcome:
    """Runs the experiment and turns each way it can stop into a record, a line and an exit status."""

    def __init__(self, cfg, run_dir: Path, in_sweep: bool, record: bool):
        self.cfg, self.run_dir, self.in_sweep, self.record = cfg, run_dir, in_sweep, record
        self.started = time.monotonic()

    def run(self) -> float | None:
        from sumexp.task import run_experiment

        previous = signal.signal(signal.SIGTERM, _raise_stop)  # training installs its own, then restores this
        try:
            return run_experiment(self.cfg, self.run_dir)["dev_rouge_mean"]
        except RunInterrupted as err:  # a checkpoint was saved: resume=true continues from it
            self._write(run_record.INTERRUPTED, "train", str(err))
            say(f"sumexp: {err}")
            return self._stop(128 + signal.Signals[err.signal_name].value)
        except StopSignal as err:  # outside training: checkpoints already written are kept
            message = f"interrupted by {err.signal_name} outside training; run again with resume=true to continue"
            self._write(run_record.INTERRUPTED, "run", message)
            say(f"sumexp: {message}")
            return self._stop(128 + signal.Signals[err.signal_name].value)
        except KeyboardInterrupt:  # Ctrl-C outside training, where no checkpoint is due
            self._write(run_record.INTERRUPTED, "run", "interrupted by SIGINT outside training")
            raise SystemExit(128 + signal.SIGINT.value) from None
        except UserError as err:
            message = self._write(_status_of(err), err.stage, str(err))
            say_error(message)
            if os.environ.get("HYDRA_FULL_ERROR") == "1":  # debugging: the traceback too
                raise
            return self._stop(2)
        except Exception as err:
            full = disk_full(err, self.run_dir)
            if full:  # not a bug: one line, and a record that says failed when there is room for one
                self._write(run_record.FAILED, "write", full)
                say_error(full)
                return self._stop(2)
            # a bug: keep the traceback, and leave a record in the run folder
            self._write(run_record.FAILED, "run", f"{type(err).__name__}: {err}")
            if not self.in_sweep:
                raise
            log.exception("the run failed")  # the traceback goes to this job's log and stderr.log
            return None
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _write(self, status: str, stage: str, error: str) -> str:
        """Record how the run stopped (rank 0 only); returns the error as recorded, secrets removed."""
        from sumexp.security.secrets import redact

        error = redact(error)
        if self.record:
            seconds = time.monotonic() - self.started
            try:
                run_record.write_failed(self.cfg, self.run_dir, status, stage, error, seconds)
            except OSError:  # a full disk: make room from what cannot be resumed from anyway, and try again
                free_incomplete_files(self.run_dir)
                try:
                    run_record.write_failed(self.cfg, self.run_dir, status, stage, error, seconds)
                except OSError as still:  # no room even for the record: the line on stderr is all there is
                    if disk_full(still, self.run_dir) is None:
                        raise
        return error

    def _stop(self, exit_status: int) -> None:
        """A single run exits with the status; a sweep job returns nothing and the sweep goes on."""
        if self.in_sweep:
            return None
        raise SystemExit(exit_status) from None


def _raise_stop(signum, frame):
    signal.signal(signum, signal.SIG_IGN)  # the same stop delivered twice (SLURM and a sweep both send it)
    raise StopSignal(signal.Signals(signum).name)


def _status_of(err: UserError) -> str:
    """`unsupported` when a backend cannot serve this model or machine, else `failed`."""
    from sumexp.backends.base import BackendUnsupported

    return run_record.UNSUPPORTED if isinstance(err, BackendUnsupported) else run_record.FAILED
