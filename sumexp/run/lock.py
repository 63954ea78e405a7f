"""One process at a time in a run folder: an exclusive lock held for the life of the run.

The lock is `flock` on `.sumexp.lock` in the folder. The kernel drops it when the process ends, however
it ends (kill -9 included), so a held lock means a live run and a free one means no run is writing,
whatever an old record says. It works across hosts on file systems with POSIX locks (NFSv4, Lustre).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = ".sumexp.lock"
_held: dict[Path, int] = {}  # folder -> descriptor holding its lock, in this process


def acquire(run_dir: Path) -> bool:
    """Take the folder's lock for the rest of this process; False when another process holds it."""
    run_dir = Path(run_dir).resolve()
    if run_dir in _held:
        return True
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _held[run_dir] = fd
    return True


def release(run_dir: Path) -> None:
    fd = _held.pop(Path(run_dir).resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the lock


def release_all() -> None:
    """Drop every lock this process holds: for a process that runs several runs in turn (the tests' in-process CLI)."""
    for run_dir in list(_held):
        release(run_dir)


def is_locked_elsewhere(run_dir: Path) -> bool:
    """True while another process holds the folder's lock (this process's own lock does not count)."""
    run_dir = Path(run_dir).resolve()
    if run_dir in _held or not (run_dir / LOCK_NAME).is_file():
        return False
    try:
        fd = os.open(run_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)
