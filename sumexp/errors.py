"""Errors a user can cause and fix: reported as one line, never as a traceback."""


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
    """SIGTERM or Ctrl-C stopped training after a checkpoint was saved; `resume=true` continues it."""

    def __init__(self, signal_name: str, checkpoint: str | None):
        self.signal_name, self.checkpoint = signal_name, checkpoint
        where = f"checkpoint {checkpoint} saved" if checkpoint else "no checkpoint saved"
        super().__init__(f"interrupted by {signal_name}; {where}; run again with resume=true in the same run folder")
