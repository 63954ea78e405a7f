"""What reaches the terminal: sumexp's warnings and everyone's errors, unless `verbose=true` lets all through.

Everything still goes to the run's sumexp.log (Hydra's file handler); only the console is filtered.
"""

from __future__ import annotations

import logging
import sys


class ConsoleFilter(logging.Filter):
    """Lets through sumexp's warnings and any error; with verbose, every INFO record too."""

    def __init__(self, verbose: bool):
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose or record.levelno >= logging.ERROR:
            return True
        return record.name.startswith("sumexp") and record.levelno >= logging.WARNING


def _is_console(handler: logging.Handler) -> bool:
    """A handler writing to the terminal's stdout or stderr (not a file, not a test's capture buffer)."""
    stream = getattr(handler, "stream", None)
    return isinstance(handler, logging.StreamHandler) and stream in (
        sys.stdout,
        sys.stderr,
        sys.__stdout__,
        sys.__stderr__,
    )


def filter_console(logger: logging.Logger, verbose: bool) -> None:
    """Put one ConsoleFilter on each of the logger's terminal handlers (replacing an earlier one)."""
    for handler in filter(_is_console, logger.handlers):
        for old in [f for f in handler.filters if isinstance(f, ConsoleFilter)]:
            handler.removeFilter(old)
        handler.addFilter(ConsoleFilter(verbose))


def configure_console(verbose: bool) -> None:
    """Filter the root logger's terminal output; Python warnings become log records, so they are filtered too."""
    logging.captureWarnings(True)
    filter_console(logging.getLogger(), verbose)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            quiet_when_full(handler)


def quiet_when_full(handler: logging.Handler) -> None:
    """A log line the full disk has no room for is dropped, not printed with a traceback ("--- Logging error ---"):
    the run's next write of its own fails too and says, in one line, that the disk is full."""
    from sumexp.run.disk import FULL_ERRNOS

    if getattr(handler, "quiet_when_full", False):
        return
    report = handler.handleError

    def handle_error(record: logging.LogRecord) -> None:
        err = sys.exc_info()[1]
        if not (isinstance(err, OSError) and err.errno in FULL_ERRNOS):
            report(record)

    handler.handleError = handle_error
    handler.quiet_when_full = True


def quiet_libraries(verbose: bool) -> None:
    """Route transformers' and torch's own console output through the same policy; no weight-writing bars."""
    import torch  # noqa: F401  (torch installs its logging handler on import)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_default_handler()
    hf_logging.enable_propagation()  # to the root handlers: the log file, and the filtered console
    if not verbose:
        hf_logging.disable_progress_bar()
    filter_console(logging.getLogger("torch"), verbose)
