"""The run record, metrics.json: the one module that spells its status values, writes it and reads it.

It is the contract between a run, resume, a sweep's launcher and summary, the report and predict. A run
writes `running` when it starts, and ends with `completed` (every measured field, docs/metrics.md) or a
stop record (`failed`, `interrupted`, `unsupported`: the stage, a one-line error and how long it ran).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from omegaconf import OmegaConf

from sumexp.errors import first_line
from sumexp.security import secrets

# How a run stands; the one place these values are spelt.
RUNNING = "running"  # in progress, or its process died without a word (the folder's lock tells which)
COMPLETED = "completed"
FAILED = "failed"
INTERRUPTED = "interrupted"  # stopped by a signal; a checkpoint, when one was due, was saved
UNSUPPORTED = "unsupported"  # the backend cannot serve this model on this machine (backend.fallback=false)
STATUSES = (RUNNING, COMPLETED, FAILED, INTERRUPTED, UNSUPPORTED)
# Never written: how a reader shows a `running` record whose process died without a word (kill -9).
PROCESS_GONE = "process gone"
# Nor this: a `completed` record without the files a completed run always writes beside it (a partial copy).
INCOMPLETE = "incomplete"
COMPLETED_WRITES = ("dev_predictions.csv",)
REFUSED = "refused"  # never written either: a sweep job its folder did not allow to start (the record is another run's)

SECRET_SET = "<credential set>"  # what a credential's value counts as in the fingerprint
# Keys that change how a run is shown or whether it is repeated, never what it computes.
NOT_IN_FINGERPRINT = ("hydra", "force", "verbose", "resume", "cache_dir")


def config_hash(cfg) -> str:
    """A fingerprint of the resolved task config: equal hashes mean the run would compute the same thing. A
    credential counts as set, not by its value: a new token computes the same run (a sweep re-run with it skips
    what completed), and the record carries nothing derived from the secret."""
    data = {key: _plain(cfg[key]) for key in cfg if key not in NOT_IN_FINGERPRINT}  # hydra's node is never resolved
    data = secrets.mask_credentials(data, SECRET_SET)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _plain(value):
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def read_metrics(run_dir: Path) -> dict | None:
    """The folder's metrics.json, or None when it is missing, half-written or not a record (a JSON object)."""
    try:
        record = json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_running(run_dir: Path, cfg) -> None:
    """The marker of a run in progress, replaced by the completed record (or a stop record)."""
    from sumexp.results.files import write_json

    write_json(
        Path(run_dir) / "metrics.json",
        {
            "status": RUNNING,
            "model": cfg.model.name,
            "backend_requested": cfg.backend.name,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "run_dir": str(run_dir),
        },
    )


def write_completed(run_dir: Path, metrics: dict) -> None:
    """The completed record: written after every output it describes, so it vouches for them."""
    from sumexp.results.files import write_json

    write_json(Path(run_dir) / "metrics.json", {**metrics, "status": COMPLETED})


def completed_record(run_dir: Path, cfg) -> dict | None:
    """The folder's metrics when it holds a completed run of this very config, else None."""
    metrics = read_metrics(run_dir)
    if metrics and metrics.get("status") == COMPLETED and metrics.get("config_hash") == config_hash(cfg):
        return metrics
    return None


def identity(cfg, run_dir: Path) -> dict:
    """The keys every record carries, so a report can place a run that never finished."""
    return {
        "model": cfg.model.name,
        "backend_requested": cfg.backend.name,
        "config_hash": config_hash(cfg),
        "run_dir": str(run_dir),
    }


def write_failed(cfg, run_dir: Path, status: str, stage: str, error: str, seconds: float) -> None:
    """A failed (or unsupported) record: one-line error, the stage it stopped in, and how long it took."""
    from sumexp.results.files import write_json

    marker = read_metrics(run_dir) or {}
    started = {k: marker[k] for k in ("started_at", "host", "pid") if k in marker and marker.get("status") == RUNNING}
    record = {
        "status": status,
        "stage": stage,
        "error": first_line(error) if error else error,
        **identity(cfg, run_dir),
        **started,
        "run_seconds": round(seconds, 2),
    }
    write_json(Path(run_dir) / "metrics.json", record)
