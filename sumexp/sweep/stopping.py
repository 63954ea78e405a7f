"""How a local sweep stops: a stop signal to the sweep reaches each running job exactly once.

Each job runs in a session of its own (`start_new_session=True`), so nothing but the sweep's process
signals it. A terminal sends Ctrl-C to its whole foreground process group, while `kill`, `timeout`,
systemd, a CI cancel and a scheduler signal the sweep's process alone; with the jobs in the sweep's
group the first reached them twice (the terminal's SIGINT, then the sweep's own) and the second
none at all. A job's second stop signal means "stop now, skip the checkpoint", so it must come only
from a second stop of the sweep: the sweep forwards each signal it gets, once, to every running job.
"""

from __future__ import annotations

import signal
import threading

STOP_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
)  # SIGHUP: the terminal closed; its jobs are not in its session


class StopSignals:
    """While entered, SIGINT, SIGTERM and SIGHUP are noted instead of ending the process; the first names the stop."""

    def __init__(self):
        self.received: list[int] = []
        self._previous = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # signal handlers can only be set there
            for signum in STOP_SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
                    self._previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _note(self, signum, frame) -> None:
        self.received.append(signum)

    @property
    def first(self) -> signal.Signals | None:
        return signal.Signals(self.received[0]) if self.received else None


def forwarded(signum: int) -> signal.Signals:
    """The signal a job gets for the sweep's: the same one, but SIGTERM for SIGHUP (a job saves on SIGTERM and SIGINT)."""
    return signal.SIGTERM if signum == signal.SIGHUP else signal.Signals(signum)


class SweepStopped(Exception):
    """A stop signal ended the sweep: the running jobs were stopped, the rest never started."""

    def __init__(self, signum: signal.Signals, not_started: list[str]):
        super().__init__(f"the sweep was stopped by {signum.name}")
        self.signal, self.not_started = signum, not_started

    @property
    def exit_status(self) -> int:
        return 128 + self.signal.value
