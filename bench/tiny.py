"""Checkpoint folders with random weights for the benchmarks: loadable by sumexp (model.checkpoint=DIR)
and by a bare script (from_pretrained) alike, so both start from the very same weights."""

from __future__ import annotations

from pathlib import Path

from bench.common import REPO


def tiny_bart_yaml():
    """conf/model/tiny_bart.yaml as loaded by OmegaConf: the offline model sumexp builds by default."""
    from omegaconf import OmegaConf

    return OmegaConf.load(REPO / "conf" / "model" / "tiny_bart.yaml")


def save_checkpoint(
    folder: Path, texts: list[str], config_overrides: dict | None = None, seed: int = 0, init_scale: float | None = None
) -> Path:
    """A BART of tiny_bart's shape (or with `config_overrides`) and a tokenizer trained on `texts`, as
    sumexp builds them, saved with save_pretrained. `init_scale` multiplies every weight matrix after
    initialisation: random weights at the default scale give nearly the same summary for every input."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    from sumexp.models.loading import load_tokenizer
    from sumexp.models.tiny import build_config

    model_yaml = tiny_bart_yaml()
    tokenizer = load_tokenizer(model_yaml, texts)
    shape = {**model_yaml.scratch.config, **(config_overrides or {})}
    config = build_config(model_yaml.scratch.model_type, tokenizer, shape)
    torch.manual_seed(seed)
    model = AutoModelForSeq2SeqLM.from_config(config)
    if init_scale is not None:
        with torch.no_grad():
            for name, weight in model.named_parameters():
                if weight.dim() == 2 and "embed_positions" not in name:
                    weight.mul_(init_scale)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
