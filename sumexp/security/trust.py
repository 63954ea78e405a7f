"""What a model may execute: its own Python only when its model file says so, pickle weights only on request."""

from __future__ import annotations

import logging
from pathlib import Path

from sumexp.errors import UserError
from sumexp.package_data import CONF_DIR

log = logging.getLogger(__name__)

MODEL_CONF_DIR = CONF_DIR / "model"
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl"}


def remote_code_problems(model_cfg, conf_dir: Path = MODEL_CONF_DIR) -> list[str]:
    """trust_remote_code runs code from the checkpoint, so only the model's own YAML may turn it on.

    On means: conf/model/<the chosen model>.yaml says `trust_remote_code: true` for the very checkpoint
    the run loads. An override on the command line, an experiment file or a changed checkpoint is refused.
    """
    if not model_cfg.trust_remote_code:
        return []
    choice = _model_choice(model_cfg)
    declared = _declared(conf_dir, choice)
    if declared.get("trust_remote_code") is True and declared.get("checkpoint") == model_cfg.checkpoint:
        log.warning(
            f"model={choice}: trust_remote_code is on, set by conf/model/{choice}.yaml; "
            f"code from {model_cfg.checkpoint} will run"
        )
        return []
    return [
        f"model.trust_remote_code=true: only a model's own file may turn it on (conf/model/{choice}.yaml, for the "
        f"checkpoint it names); drop the override, or read the model's code and put trust_remote_code: true in its model file"
    ]


def weights_kwargs(model_cfg) -> dict:
    """from_pretrained kwargs for the weights: safetensors only, unless model.allow_pickle=true."""
    return {} if model_cfg.allow_pickle else {"use_safetensors": True}


def refuse_pickle_weights(model_cfg, error_text: str) -> None:
    """Raise the allow_pickle UserError when loading failed only because the weights are not safetensors."""
    if model_cfg.allow_pickle or "safetensors" not in error_text:
        return
    folder = Path(str(model_cfg.checkpoint)).expanduser()
    if folder.is_dir() and not any(p.suffix in PICKLE_SUFFIXES for p in folder.iterdir()):
        return  # no weights of any kind: the ordinary "cannot load" message fits
    raise UserError(
        f"model.checkpoint={model_cfg.checkpoint}: no safetensors weights, only pickle (.bin), which can run code "
        f"when loaded; convert it to safetensors, or set model.allow_pickle=true if you trust where it came from"
    )


def _model_choice(model_cfg) -> str:
    """The option picked for the model group (model=...), or the model's name outside the CLI."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return HydraConfig.get().runtime.choices.get("model") or model_cfg.name
    return model_cfg.name


def _declared(conf_dir: Path, choice: str) -> dict:
    """The model file's own values, only from a plain file inside conf/model/ (never via `..` or a link)."""
    from omegaconf import OmegaConf

    from sumexp.security.choices import inside, is_path_like

    path = conf_dir / f"{choice}.yaml"
    if is_path_like(choice) or not path.is_file() or not inside(path, conf_dir):
        return {}
    declared = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    return declared if isinstance(declared, dict) else {}
