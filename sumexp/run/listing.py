"""Find run folders under the given paths and read each one's record (metrics.json) into a row."""

from __future__ import annotations

import re
from pathlib import Path

from sumexp.run.folder import live_status
from sumexp.run.record import COMPLETED, COMPLETED_WRITES, INCOMPLETE, PROCESS_GONE, read_metrics

# Folders inside a run, or beside a sweep's jobs, that never hold a run themselves.
NOT_RUNS = {"model", "checkpoints", "tensorboard", ".hydra", ".submitit", ".launcher"}
MAX_DEPTH = 4  # a sweep folder of sweep folders of runs is as deep as sumexp writes


def is_run_dir(path: Path) -> bool:
    return (path / "metrics.json").is_file() or (path / ".hydra").is_dir()


def find_run_dirs(root: Path, depth: int = 0) -> list[Path]:
    """`root` when it is a run folder, else every run folder below it (job folders in number order)."""
    if is_run_dir(root):
        return [root]
    if depth >= MAX_DEPTH or not root.is_dir():
        return []
    children = sorted((p for p in root.iterdir() if p.is_dir() and p.name not in NOT_RUNS), key=_job_order)
    return [run for child in children for run in find_run_dirs(child, depth + 1)]


def _job_order(path: Path) -> tuple:
    number = re.match(r"\d+", path.name)  # 2_... before 10_...
    return (int(number.group()) if number else float("inf"), path.name)


def load_run(run_dir: Path) -> dict:
    """The run's metrics.json, with `status` unknown when there is none, and model/backend always filled in."""
    metrics = read_metrics(run_dir)
    if metrics is None:
        metrics = {"status": "unknown"}
        if (run_dir / "metrics.json").is_file():
            metrics["error"] = "metrics.json is not a sumexp record (unreadable, or not a JSON object)"
    chosen = _choices(run_dir)
    row = {"run": run_dir.name, **metrics, "run_dir": str(run_dir)}
    row["model"] = metrics.get("model") or chosen.get("model", "?")
    row["backend_requested"] = metrics.get("backend_requested") or chosen.get("backend", "?")
    row["status"] = live_status(run_dir, metrics)
    if row["status"] == PROCESS_GONE:  # killed (kill -9, the OOM killer, a node lost) before it could say so
        row["error"] = "its process ended without a record (killed?); resume=true in its folder continues it"
    missing = [name for name in COMPLETED_WRITES if not (run_dir / name).is_file()]
    if row["status"] == COMPLETED and missing:  # the record vouches for files that are not there
        row["status"] = INCOMPLETE
        row["error"] = (
            f"metrics.json says completed, but {', '.join(missing)} is missing (a partial copy?); "
            f"copy the whole run folder, or run it again"
        )
    return row


def _choices(run_dir: Path) -> dict:
    """model=/backend= from .hydra/overrides.yaml, for a run that wrote no metrics.json yet."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    import yaml

    overrides = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return dict(o.split("=", 1) for o in overrides if isinstance(o, str) and "=" in o and not o.startswith(("+", "~")))


def load_runs(paths) -> list[dict]:
    """One row per run folder found under the paths, in the order given."""
    return [load_run(run_dir) for path in paths for run_dir in find_run_dirs(Path(path))]
