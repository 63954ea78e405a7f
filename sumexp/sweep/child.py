"""`python -m sumexp.sweep.child JOB_FILE RETURN_FILE`: run one sweep job in this fresh process.

The parent (sumexp/sweep/launching.py) pickled Hydra's context, the task function and the job's
composed config into JOB_FILE; the JobReturn is pickled back into RETURN_FILE.
"""
from __future__ import annotations

import sys
from pathlib import Path


def run_child(job_file: Path, return_file: Path) -> None:
    import cloudpickle
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals

    with open(job_file, "rb") as handle:
        job = cloudpickle.load(handle)
    Singleton.set_state(job["singletons"])
    setup_globals()
    result = run_job(hydra_context=job["hydra_context"], task_function=job["task_function"], config=job["config"],
                     job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    tmp = return_file.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        cloudpickle.dump(result, handle)
    tmp.replace(return_file)  # the parent sees a whole file or none


if __name__ == "__main__":
    run_child(Path(sys.argv[1]), Path(sys.argv[2]))
