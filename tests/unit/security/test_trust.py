"""Trust: remote code only from a model's own file, and pickle weights only on request."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sumexp.errors import UserError
from sumexp.package_data import CONF_DIR
from sumexp.security.trust import remote_code_problems
from tests.support.security import PICKLE_SUFFIXES

MODELS = sorted(p.stem for p in (Path(CONF_DIR) / "model").glob("*.yaml"))


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
