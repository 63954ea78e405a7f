"""Full fine-tuning: every weight trains."""

from __future__ import annotations

from pathlib import Path

from sumexp.backends.base import Backend, BuiltModel
from sumexp.models.loading import load_model


class FullFineTuning(Backend):
    def build(self, cfg, tokenizer, model_config, model_dir: Path, base: str | None = None) -> BuiltModel:
        import torch

        # fp32 master weights: mixed precision (optim.precision) casts per step, and
        # transformers 5 would otherwise load a checkpoint in its stored (often half) dtype.
        model = load_model(cfg.model, tokenizer, model_config, folder=base, dtype=torch.float32)
        return self.built(model)

    def load_trained(self, cfg, tokenizer, model_dir: Path):
        import torch
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model_dir, trust_remote_code=cfg.model.trust_remote_code)
        return load_model(cfg.model, tokenizer, config, folder=model_dir, dtype=torch.float32)
