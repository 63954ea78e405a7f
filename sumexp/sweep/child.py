"""`python -m sumexp.sweep.child JOB_FILE RETURN_FILE SWEEP_PID`: run one sweep job in this fresh process.

The parent (sumexp/sweep/launching.py) pickled Hydra's context, the task function and the job's
composed config into JOB_FILE, its secrets left out and handed over in this process's environment
(sumexp/sweep/job_files.py); the JobReturn goes back into RETURN_FILE the same way.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from sumexp.sweep import job_files

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def run_child(job_file: Path, return_file: Path) -> None:
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals

    secrets = job_files.take_secrets(os.environ)
    job = job_files.load(job_file, secrets)
    job_file.unlink(missing_ok=True)  # read once: nothing needs it any more
    Singleton.set_state(job["singletons"])
    setup_globals()
    result = run_job(
        hydra_context=job["hydra_context"],
        task_function=job["task_function"],
        config=job["config"],
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    job_files.dump(return_file, result, secrets)


def stop_with_the_sweep(sweep_pid: int) -> None:
    """SIGTERM for this job when the sweep's process dies unannounced (kill -9): the job saves and records it.

    The job runs in a session of its own, so nothing else would end it: it would train on, orphaned.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != sweep_pid:  # the sweep died before the line above took effect
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    stop_with_the_sweep(int(sys.argv[3]))
    run_child(Path(sys.argv[1]), Path(sys.argv[2]))
