"""Full fine-tuning: every weight trains."""
from __future__ import annotations

from sumexp.backends.base import Backend, BuiltModel
from sumexp.models.loading import load_model


class FullFineTuning(Backend):
    def build(self, model_cfg, tokenizer, model_config) -> BuiltModel:
        import torch

        # fp32 master weights: mixed precision (optim.precision) casts per step, and
        # transformers 5 would otherwise load a checkpoint in its stored (often half) dtype.
        model = load_model(model_cfg, tokenizer, model_config, dtype=torch.float32)
        return BuiltModel(model=model, effective_backend=self.name)
