"""Errors a user can cause and fix: reported as one line, never as a traceback, through `say_error` alone."""

from __future__ import annotations

import sys
from typing import NoReturn


class UserError(Exception):
    """Bad input or config: the message names the file or key, what is wrong, and the fix."""

    stage = "input"  # where the run stopped, recorded in metrics.json


class TrainingDiverged(UserError):
    """The training loss became NaN or inf; the message names the likely cause and the fix."""

    stage = "train"


class OutOfMemory(UserError):
    """The accelerator ran out of memory; the message lists the remedies."""

    stage = "train"


class RunInterrupted(Exception):
    """SIGTERM or Ctrl-C stopped training (saving a checkpoint where it stopped); `resume=true` continues."""

    def __init__(self, signal_name: str, checkpoint: str | None):
        self.signal_name, self.checkpoint = signal_name, checkpoint
        where = f"resumable from {checkpoint}" if checkpoint else "no checkpoint yet, a resume starts at step 0"
        super().__init__(f"interrupted by {signal_name}; {where}; run again with resume=true in the same run folder")


class StopSignal(BaseException):
    """SIGTERM outside training (loading, generating, writing): raised from the signal handler so the
    run stops where it is, records `interrupted` and exits 128+15. A BaseException, like KeyboardInterrupt,
    so that no `except Exception` on the way swallows it."""

    def __init__(self, signal_name: str):
        self.signal_name = signal_name
        super().__init__(signal_name)


class EvaluationStopped(Exception):
    """A stop (SIGTERM, Ctrl-C) arrived during a dev evaluation: the evaluation is abandoned unscored, so
    that the checkpoint is saved within the grace period a scheduler gives."""


def say(line: str) -> None:
    """One line on stderr, on a line of its own even when a progress bar was cut off mid-line."""
    if "tqdm" in sys.modules:  # only a process that drew bars has any to close
        from tqdm import tqdm

        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()
    print(line, file=sys.stderr, flush=True)


def say_error(message: str, prog: str = "sumexp") -> None:
    """The one way a user's error reaches the terminal: `PROG: error: MESSAGE`."""
    say(f"{prog}: error: {message}")


def refuse(message: str) -> NoReturn:
    """Stop the command for a user's error before a run starts: one line, exit status 2, no traceback."""
    say_error(message)
    raise SystemExit(2)


def run_cli(action, prog: str = "sumexp") -> int:
    """A command line's exit status: 0 when `action()` returns, 2 with one `PROG: error: ...` line on stderr
    when it raises a UserError. Tracebacks stay for bugs."""
    try:
        action()
    except UserError as err:
        say_error(str(err), prog)
        return 2
    return 0


def first_line(err: BaseException | str) -> str:
    """An exception's (or a message's) first non-empty line, for one-line messages and records; the
    exception's type name when it has no text."""
    lines = str(err).strip().splitlines()
    if lines:
        return lines[0].strip()
    return type(err).__name__ if isinstance(err, BaseException) else ""
