"""A SLURM job's pickles with no secret in them, as the local launcher's (sumexp/sweep/job_files.py).

submitit pickles what it runs into `.submitit/JOB/JOB_submitted.pkl` (again at each requeue) and what
it returns into `JOB_0_result.pkl`; Hydra's launcher, its context and the job's overrides hold every
`+hf_token=...` several times. Here submitit is handed a `SealedCall`: the launcher and its arguments
pickled secret-free (each secret a numbered placeholder), and it hands back a `SealedResult` made the same
way. The secrets reach the job through the environment of the `sbatch` that submits the array (SLURM
gives a job the environment it was submitted with, requeues included, and keeps it in a file only its own
user can read); the job takes them out of its environment before the run starts, as a local job does.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sumexp.sweep import job_files


class JobFailed(RuntimeError):
    """The job raised before Hydra could record it; its traceback, secrets removed, is the message."""


@dataclass(frozen=True)
class SealedResult:
    payload: bytes

    def open(self, secrets: list[str]):
        """The job's JobReturn, with the secrets it was sealed without put back."""
        return job_files.loads(self.payload, secrets)


@dataclass(frozen=True)
class SealedCall:
    """What submitit runs: `function(*args)` from a secret-free pickle, its secrets from the environment."""

    payload: bytes

    @classmethod
    def seal(cls, function, args: tuple, secrets: list[str]) -> SealedCall:
        return cls(job_files.dumps((function, args), secrets))

    def __call__(self) -> SealedResult:
        from sumexp.security.secrets import redact

        secrets = job_files.take_secrets(os.environ)
        function, args = job_files.loads(self.payload, secrets)
        try:
            result = function(*args)
        except Exception:  # submitit would pickle the traceback as it is, secrets and all
            raise JobFailed(redact(traceback.format_exc(), secrets)) from None
        return SealedResult(job_files.dumps(result, secrets))

    def checkpoint(self, *args, **kwargs):
        """submitit's requeue pickles this again: the same sealed call (the attempt itself knows it is a requeue)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self)


@contextmanager
def secrets_in_environment(secrets: list[str]) -> Iterator[None]:
    """While submitting: the secrets in this process's environment, which `sbatch` passes on to the jobs."""
    added = job_files.secret_environment(secrets)
    previous = {name: os.environ.get(name) for name in added}
    os.environ.update(added)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
