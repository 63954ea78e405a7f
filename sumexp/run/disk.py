"""A full disk is the machine's state, not a bug: one line with the folder and its free space."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# Libraries that write through their own code report a full disk in words, not as an OSError.
FULL_WORDS = ("No space left on device", "Disk quota exceeded")
# ... or in words that do not say why (torch.save: "basic_ios::clear: iostream error"): then a folder with
# less than this left is taken as the cause.
NEARLY_FULL_BYTES = 2**20


def disk_full(err: BaseException, run_dir: Path, then: str = "run again with resume=true") -> str | None:
    """The one-line message when `err` (or what caused it) is a full disk or quota, else None; `then`: how to
    go on once there is room."""
    free = _free_bytes(run_dir)
    if _says_full(err) or (free is not None and free < NEARLY_FULL_BYTES):
        shown = "unknown" if free is None else f"{free / 2**20:.1f} MB"
        return (
            f"{run_dir}: the disk is full ({shown} free there); free some space or set hydra.run.dir to a "
            f"folder on a larger disk, then {then}"
        )
    return None


def _says_full(err: BaseException | None) -> bool:
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if (isinstance(err, OSError) and err.errno in FULL_ERRNOS) or any(w in str(err) for w in FULL_WORDS):
            return True
        err = err.__cause__ or err.__context__
    return False


def _free_bytes(run_dir: Path) -> int | None:
    try:
        return shutil.disk_usage(run_dir).free
    except OSError:
        return None


def free_incomplete_files(run_dir: Path) -> None:
    """Remove what cannot be used after a failed write: checkpoints that do not read back, the staging
    copy of the model, and temporary files of atomic writes. Complete checkpoints stay."""
    from sumexp.training.checkpoints import checkpoint_problem

    run_dir = Path(run_dir)
    for checkpoint in sorted((run_dir / "checkpoints").glob("checkpoint-*")):
        if checkpoint.is_dir() and checkpoint_problem(checkpoint) is not None:
            shutil.rmtree(checkpoint, ignore_errors=True)
    for staging in run_dir.glob(".model.*"):
        shutil.rmtree(staging, ignore_errors=True)
    for tmp in run_dir.glob(".*.json.*"):
        tmp.unlink(missing_ok=True)
