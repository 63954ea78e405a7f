"""What the security tests plant and look for: fake credentials, each in a form its service uses, and the
suffixes of pickle weight files."""

from __future__ import annotations

# Fake credentials, each in a form its service uses; none may reach any file of a run folder.
FAKE_ENV = {
    "HF_TOKEN": "hf_FakeEnvToken1234567890abcdef",
    "WANDB_API_KEY": "0123456789abcdef0123456789abcdefFAKEWANDB",
    "MLFLOW_TRACKING_PASSWORD": "fake-mlflow-pass-12345",
    "MY_SERVICE_SECRET": "s3cr3t-from-the-environment",
}
FAKE_OVERRIDES = {
    "+hf_token": "hf_FakeOverrideToken0987654321",
    "+hf_token2": "hf_FakeSuffixedToken1122334455",  # a secret's name with a suffix is still a secret's name
    "+wandb.api_key": "FAKEKEYFROMTHECOMMANDLINE42",
}
# Secret names of every shape: a nested key, a password, an api_key under any parent, a plural.
MORE_FAKE_OVERRIDES = {
    "+auth.token": "fake-auth-token-7f3a9c",
    "+db_password": "fake-db-password-52b1",
    "+x.api_key": "fake-x-api-key-9e0d44",
    "+credentials": "fake-credentials-c81f",
}
ENV_SET_FAKE = "fake-token-set-through-hydra-env-set"  # hydra.job.env_set: Hydra's own way to set a variable
FAKES = [*FAKE_ENV.values(), *FAKE_OVERRIDES.values(), *MORE_FAKE_OVERRIDES.values(), ENV_SET_FAKE]
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".ckpt"}
