"""How a SLURM sweep stops: a stop signal to the sweep's process cancels its job array, once.

The jobs run on the cluster, not under the sweep's process, so a signal to it reaches none of them. The
first stop (Ctrl-C, SIGTERM, a closed terminal) cancels the array: SLURM removes the tasks still pending
(no further job starts) and sends SIGTERM to every process of the running ones, which save a checkpoint
and record `interrupted` (SIGKILL follows after SLURM's KillWait). A second stop sends SIGKILL at once:
stop now, no checkpoint, as a second Ctrl-C does to a local job.
"""

from __future__ import annotations

import subprocess

from sumexp.errors import say
from sumexp.sweep.stopping import StopSignals


class ArrayStop:
    """Forwards each stop the sweep receives to its submitted SLURM jobs, exactly once."""

    def __init__(self, signals: StopSignals):
        self.signals = signals
        self.arrays: list[str] = []  # the array ids submitted so far
        self._forwarded = 0

    def submitted(self, jobs: list) -> None:
        self.arrays += sorted({job.job_id.split("_")[0] for job in jobs})
        self.forward()  # a stop during the submission reaches the array it could not prevent

    def forward(self) -> None:
        """Called at every poll: act on the stops received since the last call (none before a submission)."""
        if not self.arrays:
            return
        for index in range(self._forwarded, len(self.signals.received)):
            if index == 0:
                say(
                    f"sumexp: the sweep was stopped by {self.signals.first.name}: cancelling SLURM job array "
                    f"{', '.join(self.arrays)} (pending jobs will not start, running ones save a checkpoint and "
                    "record interrupted); waiting for their records"
                )
                scancel(self.arrays)
            else:
                say("sumexp: stopped again: killing the sweep's SLURM jobs now, without a checkpoint")
                scancel(self.arrays, "--signal=KILL", "--full")
        self._forwarded = len(self.signals.received)

    @property
    def stopped(self) -> bool:
        return bool(self.signals.received)


def scancel(arrays: list[str], *options: str) -> None:
    """`scancel OPTIONS ARRAY...`; its complaint about a job that already ended is no news."""
    try:
        subprocess.run(["scancel", *options, *arrays], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        say(f"sumexp: scancel {' '.join(arrays)} failed ({err}): cancel the jobs by hand")
