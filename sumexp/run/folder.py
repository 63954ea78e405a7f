"""Whether a run may start in its folder, and what a fresh start clears first.

A folder never holds the outputs of one run beside the record of another: a completed run is only
replaced on request (force=true), a run with a checkpoint to resume is only discarded on request, and a
live run is never joined. Everything a fresh start removes is a file or folder sumexp itself writes.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from sumexp.run import lock
from sumexp.run import record as run_record

log = logging.getLogger(__name__)

# What a run writes into its folder (besides metrics.json, .hydra/ and the logs, which are replaced).
OUTPUTS = (
    "model",
    "model_merged",
    "checkpoints",
    "submission.csv",
    "dev_predictions.csv",
    "train_log.jsonl",
    "tensorboard",
)


@dataclass
class Verdict:
    action: str  # start | skip | refuse
    message: str = ""
    record: dict | None = None


def claim(run_dir: Path, cfg) -> Verdict:
    """Take the folder for this run: its lock, the verdict on what it holds, and a fresh start's clean-up.
    The lock is kept only when the run may start."""
    if not lock.acquire(run_dir):
        return Verdict("refuse", live_run_message(run_dir, run_record.read_metrics(run_dir)))
    verdict = assess(run_dir, cfg)
    if verdict.action == "skip" and not cfg.keep_checkpoints:  # a run killed after its record said completed
        shutil.rmtree(Path(run_dir) / "checkpoints", ignore_errors=True)
    if verdict.action != "start":
        lock.release(run_dir)
        return verdict
    removed = clear_previous_outputs(run_dir, keep_checkpoints=cfg.resume and not cfg.force)
    if removed:
        log.info("removed what the previous run in %s left: %s", run_dir, ", ".join(removed))
    return verdict


def assess(run_dir: Path, cfg) -> Verdict:
    """What a run of `cfg` may do in `run_dir`, from the folder's record, its lock and its files."""
    run_dir = Path(run_dir)
    record = run_record.read_metrics(run_dir)
    if lock.is_locked_elsewhere(run_dir):
        return Verdict("refuse", live_run_message(run_dir, record), record)
    if record is None:
        stray = [name for name in OUTPUTS if (run_dir / name).exists()]
        if stray:
            return Verdict(
                "refuse",
                f"{run_dir}: holds {', '.join(stray)} but no sumexp record (metrics.json); "
                f"choose an empty folder (hydra.run.dir=...), or move them away",
            )
        return Verdict("start")
    status = record.get("status")
    if status == run_record.COMPLETED:
        return _over_completed(run_dir, cfg, record)
    if cfg.force:
        return Verdict("start", record=record)
    if cfg.resume:
        return _resume(run_dir, cfg, record)
    checkpoint = _resumable_checkpoint(run_dir)
    if checkpoint is not None:
        what = (
            "a run whose process is gone"
            if status == run_record.RUNNING
            else f"an {status} run"
            if status in (run_record.INTERRUPTED, run_record.UNSUPPORTED)
            else f"a {status} run"
        )
        return Verdict(
            "refuse",
            f"{run_dir}: holds {what} with a checkpoint at step {checkpoint}; resume=true "
            f"continues it, force=true deletes it and starts over",
            record,
        )
    return Verdict("start", record=record)


def _resume(run_dir: Path, cfg, record: dict) -> Verdict:
    from sumexp.run.lineage import changed_keys

    changed = changed_keys(run_dir / "checkpoints", cfg)
    if changed:
        shown = "; ".join(changed[:4]) + ("; ..." if len(changed) > 4 else "")
        return Verdict(
            "refuse",
            f"{run_dir}: resume=true with another config than its checkpoints were trained "
            f"with ({shown}); resume with the same values, or force=true to start over",
            record,
        )
    changed_sources = _changed_data(run_dir, cfg)
    if changed_sources:
        return Verdict(
            "refuse",
            f"{run_dir}: resume=true, but {', '.join(changed_sources)} changed since its checkpoints were trained "
            f"(other rows); resume with the data it was trained on, or force=true to start over",
            record,
        )
    return Verdict("start", record=record)


def _changed_data(run_dir: Path, cfg) -> list[str] | None:
    """The data files whose rows changed since the checkpoints were trained; None when it cannot be told here
    (no record of them, or data that does not load: the run itself then says why, in one line)."""
    from sumexp.data.splits import load_splits
    from sumexp.errors import UserError
    from sumexp.run.lineage import changed_data

    if not (run_dir / "checkpoints").is_dir():
        return None
    try:
        splits = load_splits(cfg.data, cfg.seed)
    except UserError:
        return None
    return changed_data(run_dir / "checkpoints", splits)


def _over_completed(run_dir: Path, cfg, record: dict) -> Verdict:
    if cfg.force:
        return Verdict("start", record=record)
    if record.get("config_hash") == run_record.config_hash(cfg):
        return Verdict(
            "skip",
            f"sumexp: skipped {run_dir.name}: it already completed with this config (force=true runs it again)",
            record,
        )
    return Verdict(
        "refuse",
        f"{run_dir}: holds a completed run of another config (config_hash "
        f"{record.get('config_hash')}, this one {run_record.config_hash(cfg)}); run it in a new "
        f"folder (hydra.run.dir=...), or force=true to replace it",
        record,
    )


def live_status(run_dir: Path, record: dict) -> str:
    """The record's status, or PROCESS_GONE for a `running` record that no live process holds."""
    status = record.get("status")
    return run_record.PROCESS_GONE if status == run_record.RUNNING and not lock.is_locked_elsewhere(run_dir) else status


def live_run_message(run_dir: Path, record: dict | None) -> str:
    who = ""
    if record and record.get("status") == run_record.RUNNING:
        who = f" (pid {record.get('pid')} on {record.get('host')}, started {record.get('started_at')})"
    return (
        f"{run_dir}: another sumexp run is writing to this folder{who}; wait for it to end, or run in "
        f"another folder (hydra.run.dir=...)"
    )


def _resumable_checkpoint(run_dir: Path) -> int | None:
    from sumexp.training.checkpoints import checkpoint_step, last_complete_checkpoint

    checkpoint = last_complete_checkpoint(run_dir / "checkpoints")
    return None if checkpoint is None else checkpoint_step(checkpoint)


def clear_previous_outputs(run_dir: Path, keep_checkpoints: bool) -> list[str]:
    """Remove what an earlier run left here (its checkpoints too, unless this run resumes from them)."""
    removed = []
    for name in OUTPUTS:
        if name == "checkpoints" and keep_checkpoints:
            continue
        path = Path(run_dir) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(name)
    for stale in Path(run_dir).glob("predict_*.csv"):  # summaries by the model being replaced
        stale.unlink()
        removed.append(stale.name)
    for staging in Path(run_dir).glob(".model.*"):  # a model save cut short
        shutil.rmtree(staging, ignore_errors=True)
    return removed
