"""sumexp/security/callback.py: the files Hydra writes before a job runs are rewritten without the secrets in
them, every other value kept; a failed job's overrides are redacted before Hydra prints them."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import yaml
from hydra.types import RunMode
from omegaconf import OmegaConf

from sumexp.security import secrets
from sumexp.security.callback import RedactSecrets, redact_yaml_file
from sumexp.security.secrets import REDACTED, RedactingFilter
from tests.support.security import FAKE_ENV

TOKEN = "hf_CallbackTestToken1234567890"  # a value under a secret-named key (hf_token)
API_KEY = "wandb-callback-key-0987654321"
ENV_TOKEN = FAKE_ENV["HF_TOKEN"]  # a value of a secret-named environment variable
KEPT = {
    "model": {"name": "tiny_bart", "tokenizer_kwargs": {"eos_token": "</s>", "pad_token": "<pad>"}},
    "optim": {"lr": 0.001, "max_steps": 60},
    "generation": {"max_new_tokens": 100},
    "score": {"tokenizer": "morpheme"},
}


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch):
    """Each test starts with no remembered secret, and leaves none behind."""
    monkeypatch.setattr(secrets, "_known", set())
    for name in list(FAKE_ENV):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def root_handlers(*handlers):
    """The root logger's handlers are these for a while (pytest's own are put back, filters untouched)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = list(handlers)
    try:
        yield
    finally:
        root.handlers = saved


def write_yaml(path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def job_config(tmp_path, mode=RunMode.RUN):
    """The job's config as the callback gets it: the run's values and the hydra node's few keys it reads."""
    hydra = {
        "output_subdir": ".hydra",
        "runtime": {"output_dir": str(tmp_path / "run")},
        "mode": mode,
        "sweep": {"dir": str(tmp_path / "sweep")},
    }
    return OmegaConf.create({**KEPT, "hf_token": TOKEN, "wandb": {"api_key": API_KEY}, "hydra": hydra})


def test_redact_yaml_file_replaces_the_secret_and_keeps_every_other_value(tmp_path):
    path = tmp_path / ".hydra" / "config.yaml"
    write_yaml(path, {**KEPT, "hf_token": TOKEN, "wandb": {"api_key": API_KEY, "project": "sumexp"}})
    redact_yaml_file(path)
    text = path.read_text()
    assert TOKEN not in text and API_KEY not in text
    assert yaml.safe_load(text) == {**KEPT, "hf_token": REDACTED, "wandb": {"api_key": REDACTED, "project": "sumexp"}}


def test_redact_yaml_file_leaves_a_file_without_secrets_byte_for_byte(tmp_path):
    path = tmp_path / "config.yaml"
    original = "# written by Hydra\nmodel:\n  name: tiny_bart\noptim:\n  lr: 0.001\n"
    path.write_text(original)
    redact_yaml_file(path)
    assert path.read_text() == original  # not rewritten: the comment and layout are still there
    redact_yaml_file(tmp_path / "missing.yaml")
    assert not (tmp_path / "missing.yaml").exists()


def test_on_job_start_redacts_the_run_folders_hydra_files_and_filters_the_logs(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    hydra_dir = tmp_path / "run" / ".hydra"
    write_yaml(hydra_dir / "config.yaml", {**KEPT, "hf_token": TOKEN, "wandb": {"api_key": API_KEY}})
    write_yaml(hydra_dir / "overrides.yaml", [f"+hf_token={TOKEN}", "optim.lr=0.001", f"+note={ENV_TOKEN}"])
    write_yaml(hydra_dir / "hydra.yaml", {"hydra": {"job": {"name": "sumexp"}, "run": {"dir": str(tmp_path / "run")}}})
    hydra_before = (hydra_dir / "hydra.yaml").read_text()

    handler = logging.NullHandler()
    with root_handlers(handler):
        RedactSecrets().on_job_start(job_config(tmp_path))

    for path in hydra_dir.iterdir():
        assert TOKEN not in path.read_text() and ENV_TOKEN not in path.read_text(), path
    assert yaml.safe_load((hydra_dir / "config.yaml").read_text()) == {
        **KEPT,
        "hf_token": REDACTED,
        "wandb": {"api_key": REDACTED},
    }
    assert yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) == [
        f"+hf_token={REDACTED}",
        "optim.lr=0.001",
        f"+note={REDACTED}",
    ]
    assert (hydra_dir / "hydra.yaml").read_text() == hydra_before
    assert not (tmp_path / "sweep").exists()  # a single run has no multirun.yaml to touch
    assert [type(f) for f in handler.filters] == [RedactingFilter]  # on Hydra's console and sumexp.log handlers
    assert secrets.redact(f"token {TOKEN} and {ENV_TOKEN}") == f"token {REDACTED} and {REDACTED}"  # remembered


def test_in_a_sweep_on_job_start_and_on_multirun_end_redact_multirun_yaml(tmp_path):
    multirun = tmp_path / "sweep" / "multirun.yaml"
    write_yaml(multirun, {"hydra": {"overrides": {"task": [f"+hf_token={TOKEN}", "seed=1,2"]}}, **KEPT})
    config = job_config(tmp_path, mode=RunMode.MULTIRUN)

    with root_handlers(logging.NullHandler()):
        RedactSecrets().on_job_start(config)
    assert yaml.safe_load(multirun.read_text()) == {
        "hydra": {"overrides": {"task": [f"+hf_token={REDACTED}", "seed=1,2"]}},
        **KEPT,
    }

    write_yaml(multirun, {"hydra": {"overrides": {"task": [f"+hf_token={TOKEN}"]}}})  # Hydra writes it again
    RedactSecrets().on_multirun_end(config)
    assert TOKEN not in multirun.read_text()
    assert yaml.safe_load(multirun.read_text())["hydra"]["overrides"]["task"] == [f"+hf_token={REDACTED}"]


def test_on_job_end_redacts_the_overrides_hydra_prints_for_a_failed_job(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    job_return = SimpleNamespace(overrides=[f"+hf_token={TOKEN}", "optim.lr=0", f"+x={ENV_TOKEN}"])
    RedactSecrets().on_job_end(job_config(tmp_path), job_return=job_return)
    assert job_return.overrides == [f"+hf_token={REDACTED}", "optim.lr=0", f"+x={REDACTED}"]
    RedactSecrets().on_job_end(job_config(tmp_path), job_return=None)  # no job return: nothing to redact
