"""Security: remote code only from a model's own file, pickle weights only on request, no secret in a
run folder, and no write outside it whatever the data's ids say."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sumexp.__main__ import CONF_DIR
from sumexp.data.sample import write_sample
from sumexp.errors import UserError
from sumexp.security.secrets import REDACTED, RedactingFilter, find_secrets, redact, redact_tree, remember
from sumexp.security.trust import remote_code_problems
from tests.support.cli import sumexp_cli

MODELS = sorted(p.stem for p in (Path(CONF_DIR) / "model").glob("*.yaml"))
# Fake credentials, each in a form its service uses; none may reach any file of a run folder.
FAKE_ENV = {
    "HF_TOKEN": "hf_FakeEnvToken1234567890abcdef",
    "WANDB_API_KEY": "0123456789abcdef0123456789abcdefFAKEWANDB",
    "MLFLOW_TRACKING_PASSWORD": "fake-mlflow-pass-12345",
    "MY_SERVICE_SECRET": "s3cr3t-from-the-environment",
}
FAKE_OVERRIDES = {"+hf_token": "hf_FakeOverrideToken0987654321", "+wandb.api_key": "FAKEKEYFROMTHECOMMANDLINE42"}
ENV_SET_FAKE = "fake-token-set-through-hydra-env-set"  # hydra.job.env_set: Hydra's own way to set a variable
FAKES = [*FAKE_ENV.values(), *FAKE_OVERRIDES.values(), ENV_SET_FAKE]
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".ckpt"}


# --- trust_remote_code -------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_remote_code_is_off_in_every_shipped_model(compose_config, model):
    assert compose_config([f"model={model}"]).model.trust_remote_code is False


def remote_model(compose_config, tmp_path: Path, yaml_text: str, *overrides: str):
    """A model config named `remote` whose own file in a model folder is `yaml_text`."""
    (tmp_path / "remote.yaml").write_text(yaml_text)
    return compose_config(
        [
            "model=bart_base",
            "model.name=remote",
            "model.checkpoint=org/remote-model",
            "model.trust_remote_code=true",
            *overrides,
        ]
    ).model


def test_remote_code_allowed_when_the_models_own_file_says_so_and_logged(compose_config, tmp_path, caplog):
    model = remote_model(compose_config, tmp_path, "checkpoint: org/remote-model\ntrust_remote_code: true\n")
    with caplog.at_level(logging.WARNING):
        assert remote_code_problems(model, conf_dir=tmp_path) == []
    assert "model=remote: trust_remote_code is on, set by conf/model/remote.yaml" in caplog.text
    assert "org/remote-model" in caplog.text


def test_remote_code_refused_for_another_checkpoint(compose_config, tmp_path):
    model = remote_model(
        compose_config,
        tmp_path,
        "checkpoint: org/remote-model\ntrust_remote_code: true\n",
        "model.checkpoint=someone/else",
    )
    [problem] = remote_code_problems(model, conf_dir=tmp_path)
    assert problem.startswith("model.trust_remote_code=true: only a model's own file may turn it on")


def test_remote_code_refused_when_the_model_file_does_not_say_so(compose_config, tmp_path):
    model = remote_model(compose_config, tmp_path, "checkpoint: org/remote-model\n")
    assert remote_code_problems(model, conf_dir=tmp_path)
    assert remote_code_problems(model, conf_dir=tmp_path / "nowhere"), "no model file at all"


# --- pickle weights ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory, compose_config, sample_texts):
    """The same tiny BART saved twice: as safetensors (save_pretrained) and as a pickle .bin only."""
    import torch

    from sumexp.models.loading import load_model, load_model_config, load_tokenizer

    scratch = compose_config(["model=tiny_bart"]).model
    tokenizer = load_tokenizer(scratch, sample_texts)
    model = load_model(scratch, tokenizer, load_model_config(scratch, tokenizer))
    safe, pickled = tmp_path_factory.mktemp("safe"), tmp_path_factory.mktemp("pickled")
    model.save_pretrained(safe)
    for folder in (safe, pickled):
        tokenizer.save_pretrained(folder)
    model.config.save_pretrained(pickled)
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    return {"safe": safe, "pickled": pickled, "state": model.state_dict(), "tokenizer": tokenizer}


def checkpoint_model(compose_config, folder: Path, *overrides: str):
    return compose_config(["model=bart_base", f"model.checkpoint={folder}", *overrides]).model


def test_saved_models_are_safetensors(tiny_checkpoints):
    names = {p.name for p in tiny_checkpoints["safe"].iterdir()}
    assert "model.safetensors" in names and not {p for p in names if Path(p).suffix in PICKLE_SUFFIXES}


@pytest.mark.slow
def test_pickle_weights_need_allow_pickle(compose_config, tiny_checkpoints):
    from sumexp.models.loading import load_model, load_model_config

    model_cfg = checkpoint_model(compose_config, tiny_checkpoints["pickled"])
    assert model_cfg.allow_pickle is False
    config = load_model_config(model_cfg, tiny_checkpoints["tokenizer"])
    with pytest.raises(UserError) as err:
        load_model(model_cfg, tiny_checkpoints["tokenizer"], config)
    assert "only pickle (.bin)" in str(err.value) and "model.allow_pickle=true" in str(err.value)

    allowed = checkpoint_model(compose_config, tiny_checkpoints["pickled"], "model.allow_pickle=true")
    model = load_model(allowed, tiny_checkpoints["tokenizer"], config)
    for name, tensor in model.state_dict().items():
        assert (tensor == tiny_checkpoints["state"][name]).all(), name


def test_safetensors_weights_load_without_opt_in(compose_config, tiny_checkpoints):
    from sumexp.models.loading import load_model, load_model_config

    model_cfg = checkpoint_model(compose_config, tiny_checkpoints["safe"])
    model = load_model(
        model_cfg, tiny_checkpoints["tokenizer"], load_model_config(model_cfg, tiny_checkpoints["tokenizer"])
    )
    name, tensor = next(iter(model.state_dict().items()))
    assert (tensor == tiny_checkpoints["state"][name]).all()


def test_a_folder_without_weights_is_not_called_pickle(compose_config, tiny_checkpoints, tmp_path):
    from sumexp.models.loading import load_model, load_model_config

    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((tiny_checkpoints["pickled"] / name).read_bytes())
    model_cfg = checkpoint_model(compose_config, tmp_path)
    with pytest.raises(UserError) as err:
        load_model(
            model_cfg, tiny_checkpoints["tokenizer"], load_model_config(model_cfg, tiny_checkpoints["tokenizer"])
        )
    assert "cannot load" in str(err.value) and "allow_pickle" not in str(err.value)


@pytest.mark.slow
def test_pickle_checkpoint_through_the_cli_is_one_line(tiny_checkpoints, tmp_path):
    write_sample(tmp_path / "data")
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}/run",
        "model=bart_base",
        f"model.checkpoint={tiny_checkpoints['pickled']}",
        "model.max_source_length=256",
        "model.max_target_length=64",
        "data=csv",
        f"data.dir={tmp_path}/data",
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    [line] = [line for line in run.stderr.splitlines() if line.startswith("sumexp: error:")]
    assert "only pickle (.bin)" in line and "model.allow_pickle=true" in line
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "failed"


# --- secrets -------------------------------------------------------------------------------------


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


def assert_no_secret_in(folder: Path) -> list[Path]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for fake in FAKES:
            assert fake.encode() not in data, f"{fake} in {path}"
    return files


@pytest.mark.slow
def test_secrets_never_reach_a_finished_run_folder_and_ids_never_become_paths(tmp_path):
    """A real run with fake tokens in the environment and on the command line, and path-like ids."""
    data = tmp_path / "data"
    write_sample(data)
    escaping = ["../../x", "../../../escaped.csv", "/tmp/sumexp_abs_x", "..\\..\\win"]
    for split, n in (("train", 16), ("dev", 4), ("test", 4)):
        frame = pd.read_csv(data / f"{split}.csv", dtype=str, keep_default_na=False).head(n)
        if split != "train":
            frame["fname"] = escaping
        frame.to_csv(data / f"{split}.csv", index=False)
    outside_before = sorted(p for p in tmp_path.rglob("*") if "run" not in p.relative_to(tmp_path).parts)
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}/run",
        "data=csv",
        f"data.dir={data}",
        "optim.max_steps=2",
        "optim.batch_size=8",
        "optim.eval_on_start=false",
        "generation.num_beams=1",
        "generation.max_new_tokens=4",
        "score.tokenizer=whitespace",
        *(f"{key}={value}" for key, value in FAKE_OVERRIDES.items()),
        env=FAKE_ENV,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = tmp_path / "run"
    files = assert_no_secret_in(run_dir)
    for fake in FAKES:
        assert fake not in run.stdout + run.stderr
    assert {
        ".hydra/config.yaml",
        ".hydra/hydra.yaml",
        ".hydra/overrides.yaml",
        "metrics.json",
        "sumexp.log",
        "model/model.safetensors",
        "submission.csv",
    } <= {str(p.relative_to(run_dir)) for p in files}
    assert not [p for p in files if p.suffix in PICKLE_SUFFIXES]
    # Redacted, not dropped: the keys are still on record, and the YAML still loads.
    saved = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert saved["hf_token"] == REDACTED and saved["wandb"] == {"api_key": REDACTED}
    assert f"+hf_token={REDACTED}" in yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    # The ids are data: written into the CSVs as they are, never used as a path.
    assert pd.read_csv(run_dir / "submission.csv")["fname"].tolist() == escaping
    assert sorted(p for p in tmp_path.rglob("*") if "run" not in p.relative_to(tmp_path).parts) == outside_before
    assert not Path("/tmp/sumexp_abs_x").exists() and not (run_dir / "../../x").resolve().exists()


@pytest.mark.slow
def test_secrets_never_reach_a_sweep_folder(tmp_path):
    """-m: multirun.yaml and each job's .hydra, written before the jobs run, are redacted too."""
    run = sumexp_cli(
        "-m",
        f"hydra.sweep.dir={tmp_path}/sweep",
        "optim.lr=0",
        "optim.batch_size=1,2",
        f"+hydra.job.env_set.HUB_ACCESS_TOKEN={ENV_SET_FAKE}",
        *(f"{key}={value}" for key, value in FAKE_OVERRIDES.items()),
        env=FAKE_ENV,
    )
    assert run.returncode != 0  # optim.lr=0 stops each job: only the files written before matter here
    files = assert_no_secret_in(tmp_path / "sweep")
    names = {p.name for p in files}
    assert {"multirun.yaml", "config.yaml", "hydra.yaml", "overrides.yaml"} <= names
    assert f"+hf_token={REDACTED}" in (tmp_path / "sweep" / "multirun.yaml").read_text()


@pytest.mark.slow
def test_a_model_name_cannot_place_the_run_folder_outside_outputs(tmp_path):
    """Hydra makes the run folder from model.name before any check can run: the name is made safe."""
    import shutil
    import uuid

    from sumexp.schema import path_part
    from tests.support.cli import REPO_ROOT_ENV, sumexp_cli

    assert path_part("../../x") == "_.._x" and path_part("..") == "_" and path_part("kobart_summ") == "kobart_summ"
    escape = f"/tmp/sumexp_escape_{uuid.uuid4().hex}"
    outputs = REPO_ROOT_ENV["cwd"] / "outputs"
    before = set(outputs.rglob("*")) if outputs.exists() else set()
    run = sumexp_cli(f"model.name=../../../../../../..{escape}", "data=dialogsum_ko", f"data.dir={tmp_path}/none")
    assert run.returncode == 2, run.stderr[-2000:]
    made = [p for p in set(outputs.rglob("metrics.json")) - before]
    try:
        assert not Path(escape).exists()
        assert len(made) == 1 and made[0].parent.parent.parent == outputs
        assert "sumexp_escape_" in made[0].parent.name and "/" not in made[0].parent.name
    finally:
        for metrics in made:
            shutil.rmtree(metrics.parent)
