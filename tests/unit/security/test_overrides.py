"""sumexp/security/overrides.py: the command line Hydra reads holds REDACTED where a secret was, and the task gets
the values back in memory only, in its own copy of the config."""

from __future__ import annotations

import os

import pytest
from omegaconf import OmegaConf

from sumexp.errors import UserError
from sumexp.security import overrides, secrets
from sumexp.security.overrides import HIDDEN_ENV, hide_secret_overrides, take_secret_overrides, with_secrets_restored
from sumexp.security.secrets import REDACTED
from tests.support.security import FAKE_OVERRIDES, MORE_FAKE_OVERRIDES

GIVEN = {**FAKE_OVERRIDES, **MORE_FAKE_OVERRIDES}  # seven secrets, every shape of name
PLAIN = ["model=tiny_bart", "optim.lr=1e-3", "+hf_token_path=/tmp/x", "generation.max_new_tokens=8", "-m"]


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """No remembered secret, no hidden value and no variable of another test."""
    monkeypatch.setattr(secrets, "_known", set())
    monkeypatch.setattr(overrides, "_taken", {})
    monkeypatch.delenv(HIDDEN_ENV, raising=False)


def test_hydra_reads_redacted_and_the_values_stay_in_the_environment():
    environ = {}
    argv = [*PLAIN, *(f"{key}={value}" for key, value in GIVEN.items()), "+hf_token3=${oc.env:HF_TOKEN}"]
    clean = hide_secret_overrides(argv, environ)
    assert clean == [*PLAIN, *(f"{key}={REDACTED}" for key in GIVEN), "+hf_token3=${oc.env:HF_TOKEN}"]
    assert not any(value in " ".join(clean) for value in GIVEN.values())
    assert take_secret_overrides(environ) == {key.lstrip("+"): value for key, value in GIVEN.items()}
    assert HIDDEN_ENV not in environ  # taken out: the task's own children do not inherit it
    assert secrets.redact(f"log {GIVEN['+db_password']}") == f"log {REDACTED}"  # and the log filter knows them


def test_a_mapping_that_holds_a_secret_is_hidden_whole():
    environ = {}
    clean = hide_secret_overrides(["+auth={user: bob, password: pw-7781x}", "+wandb={project: p}"], environ)
    assert clean == [f"+auth={REDACTED}", "+wandb={project: p}"]
    assert take_secret_overrides(environ) == {"auth": {"user": "bob", "password": "pw-7781x"}}
    assert secrets.redact("bob pw-7781x") == f"bob {REDACTED}"  # only the credential is redacted from logs


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("+hf_token=hf_aaaa1111,hf_bbbb2222", "+hf_token: a secret cannot be swept"),
        ("+x.api_key=choice(k-aaaa1111,k-bbbb2222)", "x.api_key: a secret cannot be swept"),
        ("+hf_token=hf_a=b", "hf_token: the value is not one Hydra can read"),
        ("+hydra.launcher.api_key=k-aaaa1111", "Hydra writes its settings into .hydra/hydra.yaml"),
    ],
)
def test_a_secret_that_cannot_be_hidden_is_refused_without_quoting_it(override, fragment):
    with pytest.raises(UserError) as refused:
        hide_secret_overrides(["model=tiny_bart", override], {})
    assert fragment.lstrip("+") in str(refused.value)
    assert "aaaa1111" not in str(refused.value) and "hf_a=b" not in str(refused.value)


def test_the_task_gets_the_values_in_its_own_copy(compose_config, monkeypatch):
    environ = {}
    clean = hide_secret_overrides(
        ["+hf_token=hf_task1234567", "+x.api_key=x-key-1234567", "+hydra.job.env_set.HUB_TOKEN=hub-1234567"], environ
    )
    monkeypatch.setattr(os, "environ", {**os.environ, **environ})
    cfg = compose_config(clean[:2])
    restored = with_secrets_restored(cfg)
    assert restored.hf_token == "hf_task1234567" and restored.x.api_key == "x-key-1234567"
    assert cfg.hf_token == REDACTED and cfg.x.api_key == REDACTED  # Hydra's copy: its JobReturn, a job's result file
    assert os.environ["HUB_TOKEN"] == "hub-1234567" and HIDDEN_ENV not in os.environ
    assert OmegaConf.to_container(restored)["model"] == OmegaConf.to_container(cfg)["model"]


def test_another_command_in_the_same_process_gets_none_of_them(compose_config):
    environ = {}
    hide_secret_overrides(["+hf_token=hf_first1234567"], environ)
    assert hide_secret_overrides(["model=tiny_bart"], environ) == ["model=tiny_bart"]
    assert HIDDEN_ENV not in environ and take_secret_overrides(environ) == {}
    cfg = compose_config(["+hf_token=REDACTED"])
    assert with_secrets_restored(cfg) is cfg  # nothing hidden: nothing put back
