"""Which values are secrets (tokens, keys, passwords) and how they are kept out of a run's files."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping

REDACTED = "REDACTED"  # a plain YAML scalar, so a redacted .hydra/*.yaml still loads
# Environment variables whose names say they hold a credential (HF_TOKEN, WANDB_API_KEY, ...).
SECRET_ENV_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
# Config keys that hold one (hf_token, hf_token2, api_key, password, ...); max_new_tokens and tokenizer do not match.
SECRET_CONFIG_KEY = re.compile(r"(^|_)(token|key|secret|password|passwd|credentials?)_?\d*$|api_?key", re.IGNORECASE)
# A tokenizer's special tokens are text like "</s>", not credentials.
TOKENIZER_TOKENS = {"bos_token", "eos_token", "pad_token", "unk_token", "mask_token", "sep_token", "cls_token"}
# Shorter environment values are flags (TOKENIZERS_PARALLELISM=false), and redacting them would mangle files.
MIN_ENV_SECRET_LENGTH = 8
MIN_CONFIG_SECRET_LENGTH = 4

_known: set[str] = set()  # every secret seen in this process, longest replaced first


def find_secrets(config: Mapping | None = None, environ: Mapping[str, str] | None = None) -> set[str]:
    """Secret values from the environment and from secret-named keys anywhere in `config` (a plain dict)."""
    environ = os.environ if environ is None else environ
    found = {
        value
        for name, value in environ.items()
        if SECRET_ENV_NAME.search(name) and len(value.strip()) >= MIN_ENV_SECRET_LENGTH
    }
    found |= {value for key, value in _leaves(config or {}) if is_secret_key(key) and _looks_secret(value)}
    return found


def remember(secrets: Iterable[str]) -> None:
    """Add to the values `redact` removes for the rest of this process."""
    _known.update(s for s in secrets if s)


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with every secret replaced by REDACTED."""
    for secret in sorted(_known if secrets is None else secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redact_tree(node):
    """A copy of a plain dict/list tree with secrets removed from every string in it."""
    if isinstance(node, Mapping):
        return {
            key: REDACTED if is_secret_key(key) and _looks_secret(value) else redact_tree(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [redact_tree(item) for item in node]
    return redact(node) if isinstance(node, str) else node


def mask_credentials(node, mark: str):
    """A copy of a plain dict/list tree with the value under each credential's key replaced by `mark`. The
    literal REDACTED is kept: a config that holds it lost its secret on the way, which must not pass for one
    that has it."""
    if isinstance(node, Mapping):
        return {
            key: mark
            if is_secret_key(key) and _looks_secret(value) and value != REDACTED
            else mask_credentials(value, mark)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [mask_credentials(item, mark) for item in node]
    return node


class RedactingFilter(logging.Filter):
    """Attached to log handlers: a message or traceback that quotes a secret is written redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def filter_log_handlers(logger: logging.Logger | None = None) -> None:
    """Put a RedactingFilter on every handler of `logger` (the root: Hydra's console and sumexp.log)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def _leaves(node, key: str = ""):
    if isinstance(node, Mapping):
        for child_key, child in node.items():
            yield from _leaves(child, str(child_key))
    elif isinstance(node, list):
        for child in node:
            yield from _leaves(child, key)
    else:
        yield key, node


def is_secret_key(key) -> bool:
    key = str(key)
    return key not in TOKENIZER_TOKENS and SECRET_CONFIG_KEY.search(key) is not None


def _looks_secret(value) -> bool:
    """A string long enough to be a credential; bools, numbers and ${...} interpolations are not."""
    return isinstance(value, str) and len(value) >= MIN_CONFIG_SECRET_LENGTH and not value.startswith("${")
