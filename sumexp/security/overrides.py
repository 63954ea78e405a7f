"""Secrets on the command line (`+hf_token=...`) never reach Hydra, so they never reach a file.

Hydra writes every override verbatim into `.hydra/*.yaml` (and a sweep's `multirun.yaml`, its job
files, the line it prints when a job crashes) before any callback can act: a stop or a full disk
in that window would leave the secret on disk. So the command line Hydra reads holds REDACTED
where a secret was; the values stay in memory and in this process's environment (only its owner
can read it; a sweep's jobs inherit it), and the task puts them back into its config in memory.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import MutableMapping

from sumexp.security.secrets import REDACTED, find_secrets, is_secret_key, redact_tree, remember

# Named like a credential (secrets.SECRET_ENV_NAME), so the job's log filter treats the variable as one too.
HIDDEN_ENV = "SUMEXP_SECRET_OVERRIDES"
ENV_SET = "hydra.job.env_set."  # Hydra sets these variables for the job: the one Hydra key a secret may take
_taken: dict = {}  # the secrets this process holds for its task, once taken out of the environment


def hide_secret_overrides(argv: list[str], environ: MutableMapping[str, str] | None = None) -> list[str]:
    """`argv` with each secret override's value replaced by REDACTED; the values go into `environ`.

    Raises UserError for a secret Hydra could not read, a swept secret, or a secret Hydra itself would keep.
    """
    from sumexp.errors import UserError

    environ = os.environ if environ is None else environ
    hidden, clean, problems = {}, [], []
    for text in argv:
        key, value, problem = _secret_override(text)
        if problem:
            problems.append(problem)
        if key is None or problem:
            clean.append(text)
            continue
        hidden[key] = value
        clean.append(f"{text.split('=', 1)[0]}={REDACTED}")
    if problems:
        raise UserError("; ".join(problems))
    _taken.clear()
    _taken.update(hidden)
    remember(_secret_values(hidden))
    if hidden:
        environ[HIDDEN_ENV] = json.dumps(hidden)
    else:
        environ.pop(HIDDEN_ENV, None)  # a job of this process must not get another command's secrets
    return clean


def take_secret_overrides(environ: MutableMapping[str, str] | None = None) -> dict:
    """The hidden secrets, {dotted key: value}, taken out of the environment so that the task's own
    children (data loader workers, tokenizer threads) do not inherit them; kept in memory for later jobs."""
    environ = os.environ if environ is None else environ
    if HIDDEN_ENV in environ:
        _taken.update(json.loads(environ.pop(HIDDEN_ENV)))
    remember(_secret_values(_taken))
    return dict(_taken)


def with_secrets_restored(cfg):
    """A copy of the task config with the hidden secrets in their places; Hydra's own copy (the one its
    JobReturn and a sweep's result file hold) keeps REDACTED. `hydra.job.env_set` secrets go into the
    environment, which Hydra puts back when the job ends."""
    from omegaconf import OmegaConf, open_dict

    secrets = take_secret_overrides()
    if not secrets:
        return cfg
    restored = copy.deepcopy(cfg)
    with open_dict(restored):
        for key, value in secrets.items():
            if key.startswith(ENV_SET):
                os.environ[key[len(ENV_SET) :]] = str(value)
            elif OmegaConf.select(restored, key) == REDACTED:
                OmegaConf.update(restored, key, value, force_add=True)
    return restored


def _secret_override(text: str) -> tuple[str | None, object, str | None]:
    """(key, value, None) for an override that holds a secret, (None, None, problem) for one that cannot be
    taken, (None, None, None) for anything else. A problem never quotes the value."""
    if "=" not in text or text.startswith("-"):
        return None, None, None
    name = text.split("=", 1)[0].lstrip("+~").split("@", 1)[0]
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        override = OverridesParser.create().parse_override(text)
    except Exception:  # noqa: BLE001 - Hydra would print the text, secret and all, in its own error
        if is_secret_key(name.rsplit(".", 1)[-1]):
            return None, None, f"{name}: the value is not one Hydra can read; quote it: '{name}=\"...\"'"
        return None, None, None
    key = override.key_or_group
    if override.is_sweep_override():
        if is_secret_key(key.rsplit(".", 1)[-1]):
            return None, None, f"{key}: a secret cannot be swept; give it one value (each job of the sweep gets it)"
        return None, None, None
    value = override.value()
    leaf = key.rsplit(".", 1)[-1]
    if redact_tree({leaf: value}) == {leaf: value}:  # no secret-named key with a credential-like value in it
        return None, None, None
    if key.startswith("hydra.") and not key.startswith(ENV_SET):
        return (
            None,
            None,
            f"{key}: Hydra writes its settings into .hydra/hydra.yaml; give this secret in the environment",
        )
    return key, value, None


def _secret_values(hidden: dict) -> set[str]:
    """The credentials among the hidden values, for the log filter (a `user` beside a `password` is not one)."""
    return {
        secret for key, value in hidden.items() for secret in find_secrets({key.rsplit(".", 1)[-1]: value}, environ={})
    }
