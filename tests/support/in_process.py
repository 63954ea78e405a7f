"""`python -m MODULE ARGS` run inside the test process, as torchtune's recipe tests run their recipes.

A CLI process costs its imports (torch, transformers, peft: most of a tiny run's time); in-process, a
run pays only for its own work. The module runs as `__main__` through runpy with sys.argv, the working
directory and the environment of a real start, its stdout and stderr captured, and everything a run
changes in the process put back afterwards: the environment, Hydra's global state, the logging
handlers Hydra installs, signal handlers, warnings filters and the run folders' locks. A real process
is still what kills, locks between processes, signals, unsloth's import order and sweeps need.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import runpy
import signal
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from unittest import mock

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP)


def run_module(module: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Run `python -m module args` here; returns what a subprocess.run(capture_output=True, text=True) would."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with _restored_process_state(env, cwd):
        returncode = 0
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            sys.argv = [module, *args]
            try:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            except SystemExit as exit_:
                returncode = _exit_status(exit_.code, stderr)
            except KeyboardInterrupt:
                returncode = 128 + signal.SIGINT
            except Exception:  # what the interpreter does with an exception nothing caught (HYDRA_FULL_ERROR=1)
                traceback.print_exc(file=stderr)
                returncode = 1
    return subprocess.CompletedProcess(
        [sys.executable, "-m", module, *args], returncode, stdout.getvalue(), stderr.getvalue()
    )


def _exit_status(code, stderr: io.StringIO) -> int:
    """What the interpreter turns SystemExit's code into: None is 0, a message is printed and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=stderr)
    return 1


@contextlib.contextmanager
def _restored_process_state(env: dict[str, str], cwd: Path):
    saved_environ, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    saved_signals = {signum: signal.getsignal(signum) for signum in SIGNALS}
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    saved_loggers = _logger_states()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        # Hydra configures logging with dictConfig, which closes every handler it finds, pytest's own included; in
        # a process of its own that costs nothing. Here the handlers stay open, and are put back afterwards.
        with warnings.catch_warnings(), mock.patch("logging.shutdown"):
            yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.argv = saved_argv
        for signum, handler in saved_signals.items():
            signal.signal(signum, handler)
        _restore_logging(root, saved_root, saved_loggers)
        _clear_hydra()
        _release_run_locks()


def _logger_states() -> dict[str, tuple]:
    return {
        name: (logger.level, logger.disabled, logger.propagate, list(logger.handlers))
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }


def _restore_logging(root: logging.Logger, saved_root: tuple, saved_loggers: dict) -> None:
    """Close what the run's logging configuration opened (its log file) and put the test's handlers back."""
    handlers, level = saved_root
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, logger in logging.Logger.manager.loggerDict.items():
        if not isinstance(logger, logging.Logger):
            continue
        previous = saved_loggers.get(name)
        if previous is None:  # a logger the run made: keep it, without the run's handlers
            for handler in logger.handlers:
                handler.close()
            logger.handlers.clear()
            continue
        logger.level, logger.disabled, logger.propagate = previous[:3]
        for handler in logger.handlers:
            if handler not in previous[3]:
                handler.close()
        logger.handlers[:] = previous[3]
    logging.captureWarnings(False)


def _clear_hydra() -> None:
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None  # the next run sets its own; nothing may read this one's


def _release_run_locks() -> None:
    """A process keeps its run folder's lock until it exits; this one goes on, so it lets go here."""
    from sumexp.run import lock

    lock.release_all()
