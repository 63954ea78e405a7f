"""Secrets: which names and values count as one, and the log filter that keeps them out of every log."""

from __future__ import annotations

import logging

from sumexp.security.secrets import REDACTED, RedactingFilter, find_secrets, redact, redact_tree, remember
from tests.support.security import FAKE_ENV


def test_secret_names_and_values():
    environ = {**FAKE_ENV, "TOKENIZERS_PARALLELISM": "false", "HOME": "/home/someone-long-enough", "API_KEY": "short"}
    config = {
        "hf_token": "hf_fromconfig123",
        "model": {"tokenizer_kwargs": {"eos_token": "</s>", "pad_token": "<pad>"}},
        "generation": {"max_new_tokens": 100},
        "wandb": {"api_key": "wandbkey-123456"},
        "score": {"tokenizer": "morpheme"},
    }
    assert find_secrets(config, environ) == {*FAKE_ENV.values(), "hf_fromconfig123", "wandbkey-123456"}
    assert redact_tree(config)["model"]["tokenizer_kwargs"] == {"eos_token": "</s>", "pad_token": "<pad>"}
    assert redact_tree(config)["hf_token"] == REDACTED


def test_log_filter_redacts_messages_and_tracebacks(tmp_path):
    remember(["hf_LogFilterSecret123"])
    handler = logging.FileHandler(tmp_path / "run.log")
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("sumexp.test_security")
    logger.addHandler(handler)
    try:
        logger.warning("token is %s", "hf_LogFilterSecret123")
        try:
            raise RuntimeError("failed with hf_LogFilterSecret123")
        except RuntimeError:
            logger.exception("while loading")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = (tmp_path / "run.log").read_text()
    assert "hf_LogFilterSecret123" not in text
    assert "token is REDACTED" in text and "RuntimeError: failed with REDACTED" in text
    assert redact("a hf_LogFilterSecret123 b") == f"a {REDACTED} b"
