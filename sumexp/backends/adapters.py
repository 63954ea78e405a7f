"""LoRA adapters as the lora, qlora and unsloth backends share them: which modules, which token
rows, wrapped once, and the base weights a saved adapter needs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sumexp.errors import UserError
from sumexp.models.loading import PLACEHOLDERS, load_model

BASE_DIR = "base"  # model/base: a scratch model's base weights (random or pretrained here): nothing could download them


def lora_kwargs(settings, model, tokenizer) -> dict:
    """LoraConfig arguments (without task_type) for `model`, from backend.lora."""
    targets = target_modules(settings, model)
    kwargs = dict(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        fan_in_fan_out=targets_conv1d(model, targets),
    )
    if settings.train_new_tokens:
        kwargs["trainable_token_indices"] = placeholder_rows(model, tokenizer)
    return kwargs


def target_modules(settings, model):
    """backend.lora.target_modules, where null means peft's default for the architecture."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    if settings.target_modules is None:
        model_type = model.config.model_type
        if model_type not in DEFAULTS:
            raise UserError(
                f"backend.lora.target_modules: peft has no default for model type {model_type}; set all-linear "
                f"or a list of module names, e.g. backend.lora.target_modules=[q_proj,v_proj]"
            )
        return list(DEFAULTS[model_type])
    if isinstance(settings.target_modules, str):
        return settings.target_modules
    return list(settings.target_modules)


def targets_conv1d(model, targets) -> bool:
    """GPT-2's Conv1D stores weights as (in, out): LoRA needs fan_in_fan_out=True for those layers."""
    from transformers.pytorch_utils import Conv1D

    def targeted(name: str) -> bool:
        return targets == "all-linear" or (not isinstance(targets, str) and name.rsplit(".", 1)[-1] in targets)

    return any(isinstance(module, Conv1D) and targeted(name) for name, module in model.named_modules())


def placeholder_rows(model, tokenizer):
    """The placeholder token ids whose embedding rows train, and the output head's too when it is not tied.

    Under LoRA the embedding matrix is frozen: rows added for #Person1#-style tokens would stay
    random, and with an untied head the model could read them but never write them.
    """
    ids = sorted({tokenizer.convert_tokens_to_ids(token) for token in PLACEHOLDERS})
    head = model.get_output_embeddings()
    if head is None or getattr(model.config, "tie_word_embeddings", False):
        return ids  # peft follows the tied modules (the head, an encoder-decoder's embed_tokens) itself
    return {_module_name(model, model.get_input_embeddings()): ids, _module_name(model, head): ids}


def check_token_rows_reach(peft_model, vocab_size: int) -> None:
    """Every vocabulary-sized layer the forward uses must sit inside a token wrapper, or its rows never train."""
    wrappers = [
        name for name, module in peft_model.named_modules() if type(module).__name__ == "TrainableTokensWrapper"
    ]
    for name, module in peft_model.named_modules(remove_duplicate=False):
        weight = getattr(module, "weight", None)
        vocab_layer = (
            type(module).__name__ in ("Embedding", "Linear") and weight is not None and weight.shape[0] == vocab_size
        )
        if vocab_layer and not any(name.startswith(w + ".") for w in wrappers):
            raise UserError(
                f"backend.lora.train_new_tokens: peft cannot train the new token rows of {name} in this model; "
                f"set backend.lora.train_new_tokens=false (the placeholders then keep random rows) or backend=full"
            )


def wrap_once(model, config):
    """The model with LoRA adapters; a model that already has them is returned as it is (a resumed run)."""
    from peft import PeftModel, get_peft_model

    if isinstance(model, PeftModel):
        return model
    return get_peft_model(model, config)


def base_folder(cfg, tokenizer, model_config, model_dir: Path, pretrained: str | None = None) -> str | None:
    """Where the frozen base loads from: None for a checkpoint (it loads from model.checkpoint); for a
    scratch model, its weights copied once into model/base, whole or not at all: the `pretrained` folder
    (sumexp/models/base_cache.py), or random weights."""
    if cfg.model.scratch is None:
        return None
    base = Path(model_dir) / BASE_DIR
    if not (base / "config.json").is_file():
        staging = base.with_name(f".{BASE_DIR}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        if pretrained is not None:
            shutil.copytree(pretrained, staging)
        else:
            load_model(cfg.model, tokenizer, model_config).save_pretrained(staging)
            tokenizer.save_pretrained(staging)
        os.replace(staging, base)
    return str(base)


def saved_base_folder(cfg, model_dir: Path) -> str | None:
    """The base a finished adapter run trained on: model/base for a scratch model, else the checkpoint (None)."""
    if cfg.model.scratch is None:
        return None
    base = Path(model_dir) / BASE_DIR
    if not (base / "config.json").is_file():
        raise UserError(f"{model_dir}: the adapter's base model ({BASE_DIR}/) is missing; the run folder is incomplete")
    return str(base)


def base_config(cfg, tokenizer, folder: str | None):
    """The architecture config of the base: from the saved folder, or as the run loaded it."""
    if folder is None:
        from sumexp.models.loading import load_model_config

        return load_model_config(cfg.model, tokenizer)
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(folder, trust_remote_code=cfg.model.trust_remote_code)


def _module_name(model, target) -> str:
    return next(name for name, module in model.named_modules() if module is target)
