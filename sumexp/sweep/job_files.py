"""The files that carry a sweep job to its process and its result back: owner-only, and free of secrets.

A job's pickle holds Hydra's whole context, and a secret (`+hf_token=...`, a key named like a
credential, a credential in the environment) appears in it several times: in the config, in the
override list, in Hydra's own state. Every string that contains one is pickled as a template with
a placeholder instead, and the secrets themselves reach the job's process through its environment,
which only its owner can read (/proc/PID/environ is mode 0400), and are never written to disk.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, MutableMapping
from pathlib import Path

import cloudpickle

SECRET_ENV = "SUMEXP_JOB_SECRET_{}"  # matches secrets.SECRET_ENV_NAME, so the job redacts them from its logs too
_PLACEHOLDER = "\x00sumexp-secret-{}\x00"  # a NUL never appears in a config value or override
_PERSISTENT_TAG = "sumexp-secret"


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
    """Pickle `obj` (cloudpickle) to `path`, created owner-only, replaced atomically, with no secret in it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # born 0600, never world-readable
    with os.fdopen(descriptor, "wb") as handle:
        _SecretFreePickler(handle, secrets).dump(obj)
    os.replace(tmp, path)  # the reader sees a whole file or none


def load(path: Path, secrets: list[str]):
    """Unpickle what `dump` wrote, with the secrets put back where they were."""
    with open(path, "rb") as handle:
        return _SecretRestoringUnpickler(handle, secrets).load()


class _SecretFreePickler(cloudpickle.Pickler):
    """Pickles each string that holds a secret as a persistent id: the string with placeholders for the secrets."""

    def __init__(self, handle, secrets: list[str]):
        super().__init__(handle)
        # Longest first, so that a secret containing another one is replaced whole.
        self._secrets = sorted(enumerate(secrets), key=lambda item: len(item[1]), reverse=True)

    def persistent_id(self, obj):
        if type(obj) is not str or not any(secret in obj for _, secret in self._secrets):
            return None
        for number, secret in self._secrets:
            obj = obj.replace(secret, _PLACEHOLDER.format(number))
        return (_PERSISTENT_TAG, obj)


class _SecretRestoringUnpickler(pickle.Unpickler):
    def __init__(self, handle, secrets: list[str]):
        super().__init__(handle)
        self._secrets = secrets

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 2 and pid[0] == _PERSISTENT_TAG):
            raise pickle.UnpicklingError(f"unknown persistent id in a job file: {pid!r}")
        text = pid[1]
        for number, secret in enumerate(self._secrets):
            text = text.replace(_PLACEHOLDER.format(number), secret)
        if "\x00sumexp-secret-" in text:
            raise pickle.UnpicklingError("a job file names a secret its process was not given")
        return text


def find_job_secrets(config, environ: Mapping[str, str] | None = None) -> list[str]:
    """The secrets in a job's composed config (Hydra node included) and in the environment, in a fixed order."""
    from omegaconf import OmegaConf

    from sumexp.security.secrets import find_secrets

    return sorted(find_secrets(OmegaConf.to_container(config, resolve=False), environ))
