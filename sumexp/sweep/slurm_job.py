"""One attempt of a sweep job inside its SLURM allocation: a pre-emption saves and requeues, a requeue resumes.

submitit's own SIGUSR2 handler requeues at once with `sys.exit`, from wherever training is: nothing is
saved and the record goes on saying `running`. Here SIGUSR2 is first turned into sumexp's stop (the one
SIGTERM takes: save a checkpoint, never evaluate, record `interrupted`); only once the task has returned
is submitit's handler called, to requeue the job and exit. SLURM counts requeues in SLURM_RESTART_COUNT,
so an attempt that finds it set is a requeue of this very job, and continues its checkpoints with
resume=true (the folder's lineage check still refuses a changed config).
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from sumexp.errors import StopSignal
from sumexp.run import record as run_record

log = logging.getLogger("sumexp")
PREEMPT_SIGNAL = signal.SIGUSR2  # submitit's: `--signal=USR2@signal_delay_s` before the time limit, and pre-emption


def attempt_number() -> int:
    """1 for a job's first run, n+1 after SLURM requeued it n times."""
    return int(os.environ.get("SLURM_RESTART_COUNT") or 0) + 1


def continuing(overrides: list[str]) -> list[str]:
    """A requeued attempt's overrides: resume its own checkpoints, never a forced fresh start over them."""
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in ("resume", "force")]
    return kept + ["resume=true", "force=false"]


def run_attempt(call, overrides: list[str]):
    """Run `call(overrides)` (Hydra's job) as this attempt; requeue when SIGUSR2 stopped it."""
    attempt = attempt_number()
    if attempt > 1:
        overrides = continuing(list(overrides))
    with PreemptionGuard() as guard:
        try:
            result = call(overrides)
        except StopSignal:  # the signal came before or after sumexp's task, which records its own stops
            result = None
    run_dir = _run_dir(result)
    if run_dir is not None:
        _update_record(run_dir, attempts=attempt)
    if guard.signal_name is not None:
        _requeue(guard, run_dir, attempt)  # exits when SLURM took the job back
    return result


class PreemptionGuard:
    """While the job runs, SIGUSR2 takes the path of SIGTERM (sumexp's stop); submitit's handler is kept for after."""

    def __enter__(self) -> PreemptionGuard:
        self.signal_name: str | None = None
        self.outside = signal.getsignal(signal.SIGTERM)  # submitit's, which only logs: sumexp's task is not running
        self.requeue_handler = signal.signal(PREEMPT_SIGNAL, self._stop)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(PREEMPT_SIGNAL, self._ignore)  # the stop is under way: a second signal changes nothing

    def _stop(self, signum, frame) -> None:
        if self.signal_name is not None:
            return self._ignore(signum, frame)
        self.signal_name = signal.Signals(signum).name
        sumexp_stop = signal.getsignal(signal.SIGTERM)
        if not callable(sumexp_stop) or sumexp_stop == self.outside:
            raise StopSignal(self.signal_name)
        try:
            sumexp_stop(signum, frame)  # training: save and stop at the step's end; elsewhere: raises StopSignal
        finally:
            signal.signal(signum, self._stop)  # sumexp's handler resets the signal it saw to the default

    @staticmethod
    def _ignore(signum, frame) -> None:
        log.warning("%s again: the stop it asks for is already under way", signal.Signals(signum).name)


def _requeue(guard: PreemptionGuard, run_dir: Path | None, attempt: int) -> None:
    record = run_record.read_metrics(run_dir) if run_dir is not None else None
    if record is not None and record.get("status") == run_record.COMPLETED:
        return  # the signal came after the run was done: nothing to continue
    from submitit.core.utils import UncompletedJobError

    cause = (record or {}).get("error") or f"interrupted by {guard.signal_name}"
    cause = cause.split(";")[0]
    if callable(guard.requeue_handler):
        _update_record(run_dir, error=f"{cause}; requeued: attempt {attempt + 1} continues from its checkpoint")
        # The requeue sends SIGTERM to every process of the job, `scontrol requeue` itself included: ignored
        # (and inherited so), it cannot cut the requeue short and turn it into a failed result.
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            guard.requeue_handler(PREEMPT_SIGNAL, None)  # submitit: checkpoint(), `scontrol requeue`, sys.exit
        except UncompletedJobError as err:  # e.g. max_num_timeout reached
            signal.signal(signal.SIGTERM, previous)
            reason = str(err).strip().rstrip(".")
            _update_record(run_dir, error=f"{cause}; not requeued ({reason}); run again with resume=true to continue")
            return
    _update_record(run_dir, error=f"{cause}; not requeued; run again with resume=true to continue")


def _update_record(run_dir: Path | None, **fields) -> None:
    """Add `fields` to the record this process's run wrote (a run refused its folder leaves the old one alone)."""
    from sumexp.results.files import write_json

    record = run_record.read_metrics(run_dir) if run_dir is not None else None
    if record is None or record.get("pid") != os.getpid():
        return
    write_json(Path(run_dir) / "metrics.json", {**record, **fields})


def _run_dir(result) -> Path | None:
    try:
        return Path(str(result.hydra_cfg.hydra.runtime.output_dir))
    except AttributeError:  # no JobReturn: the job stopped before Hydra set it up
        return None
