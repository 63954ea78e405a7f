"""The files that carry a sweep job to its process and its result back: owner-only, and free of secrets.

A job's pickle holds Hydra's whole context, and a secret (`+hf_token=...`, a key named like a
credential, a credential in the environment) appears in it several times: in the config, in the
override list, in Hydra's own state. Every string that contains one is pickled as a template with
a placeholder instead, and the secrets themselves reach the job's process through its environment,
which only its owner can read (/proc/PID/environ is mode 0400), and are never written to disk.
"""

from __future__ import annotations

import io
import pickle
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

import cloudpickle

SECRET_ENV = "SUMEXP_JOB_SECRET_{}"  # matches secrets.SECRET_ENV_NAME, so the job redacts them from its logs too
_PERSISTENT_TAG = b"sumexp-secret"  # bytes: the pickler looks for secrets in strings only


def secret_environment(secrets: list[str]) -> dict[str, str]:
    """The environment variables that hand `secrets` to a job's process, in the order the pickles number them."""
    return {SECRET_ENV.format(i): secret for i, secret in enumerate(secrets)}


def take_secrets(environ: MutableMapping[str, str]) -> list[str]:
    """The secrets a job's process was handed, removed from its environment (its own children do not need them)."""
    secrets = []
    while SECRET_ENV.format(len(secrets)) in environ:
        secrets.append(environ.pop(SECRET_ENV.format(len(secrets))))
    return secrets


def dump(path: Path, obj, secrets: list[str]) -> None:
    """Pickle `obj` (cloudpickle) to `path`, born owner-only, replaced atomically, with no secret in it."""
    from sumexp.results.files import replacing

    with replacing(path, owner_only=True) as handle:  # never world-readable; the reader sees a whole file or none
        _SecretFreePickler(handle, secrets).dump(obj)


def load(path: Path, secrets: list[str]):
    """Unpickle what `dump` wrote, with the secrets put back where they were."""
    with open(path, "rb") as handle:
        return _SecretRestoringUnpickler(handle, secrets).load()


def dumps(obj, secrets: list[str]) -> bytes:
    """`dump` to bytes, for a pickle that another library writes (submitit's, on SLURM)."""
    buffer = io.BytesIO()
    _SecretFreePickler(buffer, secrets).dump(obj)
    return buffer.getvalue()


def loads(data: bytes, secrets: list[str]):
    """Unpickle what `dumps` made, with the secrets put back where they were."""
    return _SecretRestoringUnpickler(io.BytesIO(data), secrets).load()


class _SecretFreePickler(cloudpickle.Pickler):
    """Pickles each string that holds a secret as a persistent id: its secret-free pieces and the secrets' numbers."""

    def __init__(self, handle, secrets: list[str]):
        super().__init__(handle)
        self._secrets = {secret: number for number, secret in enumerate(secrets)}
        # Longest first, so that a secret containing another one is matched whole.
        ordered = sorted(secrets, key=len, reverse=True)
        self._pattern = re.compile("(" + "|".join(map(re.escape, ordered)) + ")") if secrets else None

    def persistent_id(self, obj):
        if self._pattern is None or type(obj) is not str or not self._pattern.search(obj):
            return None
        # split() keeps the secrets at odd places; the pieces between them hold none (leftmost matching), so
        # saving this id never asks for another one.
        parts = self._pattern.split(obj)
        return (_PERSISTENT_TAG, tuple(self._secrets[part] if i % 2 else part for i, part in enumerate(parts)))


class _SecretRestoringUnpickler(pickle.Unpickler):
    def __init__(self, handle, secrets: list[str]):
        super().__init__(handle)
        self._secrets = secrets

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 2 and pid[0] == _PERSISTENT_TAG):
            raise pickle.UnpicklingError(f"unknown persistent id in a job file: {pid!r}")
        try:
            return "".join(self._secrets[part] if isinstance(part, int) else part for part in pid[1])
        except IndexError:
            raise pickle.UnpicklingError("a job file names a secret its process was not given") from None


def find_job_secrets(config, environ: Mapping[str, str] | None = None) -> list[str]:
    """The secrets in a job's composed config (Hydra node included) and in the environment, in a fixed order."""
    from omegaconf import OmegaConf

    from sumexp.security.secrets import find_secrets

    return sorted(find_secrets(OmegaConf.to_container(config, resolve=False), environ))
