"""LoRA (peft): the base weights stay frozen, low-rank adapters and the new tokens' rows train."""

from __future__ import annotations

from pathlib import Path

from sumexp.backends import adapters
from sumexp.backends.base import Backend, BuiltModel
from sumexp.models.loading import load_model


class LoRA(Backend):
    def build(self, cfg, tokenizer, model_config, model_dir: Path, base: str | None = None) -> BuiltModel:
        folder = adapters.base_folder(cfg, tokenizer, model_config, model_dir, base)
        model = self.load_base(cfg, tokenizer, model_config, folder)
        return self.built(self.add_adapters(model, tokenizer, model_config, cfg))

    def load_base(self, cfg, tokenizer, model_config, folder: str | None):
        """The frozen base in fp32, from `folder` or model.checkpoint, fitted to the tokenizer."""
        import torch

        torch.manual_seed(cfg.seed)  # rows added by resizing are drawn at random: the same rows when predicting
        return load_model(cfg.model, tokenizer, model_config, folder=folder, dtype=torch.float32)

    def add_adapters(self, model, tokenizer, model_config, cfg):
        import torch
        from peft import LoraConfig

        torch.manual_seed(cfg.seed)  # the adapters' random init
        task = "SEQ_2_SEQ_LM" if model_config.is_encoder_decoder else "CAUSAL_LM"
        config = LoraConfig(task_type=task, **adapters.lora_kwargs(self.lora, model, tokenizer))
        model = adapters.wrap_once(model, config)
        if self.lora.train_new_tokens:
            adapters.check_token_rows_reach(model, len(tokenizer))
        return model

    def load_trained(self, cfg, tokenizer, model_dir: Path):
        """The base as the run loaded it, with the run's adapter (and trained token rows) on top."""
        from peft import PeftModel

        return PeftModel.from_pretrained(self.trained_base(cfg, tokenizer, model_dir), model_dir)

    def trained_base(self, cfg, tokenizer, model_dir: Path):
        """The frozen base exactly as the run's adapter trained against it (4-bit for qlora and unsloth)."""
        folder = adapters.saved_base_folder(cfg, model_dir)
        return self.load_base(cfg, tokenizer, adapters.base_config(cfg, tokenizer, folder), folder)

    def load_merged(self, cfg, tokenizer, model_dir: Path):
        """The adapter merged into the base it trained against: one plain fp32 transformers model for serving.

        A 4-bit base (qlora, unsloth) is dequantized first, to fp32, the dtype it was quantized from: the
        unquantized checkpoint differs from it by the quantization error, and an adapter merged there
        computes another function (tests/unit/test_predict_merge.py measures how far). Merging into the 4-bit layers
        themselves would quantize the sum again.
        """
        import torch
        from peft import PeftModel

        base = self.trained_base(cfg, tokenizer, model_dir)
        if getattr(base, "is_loaded_in_4bit", False):
            base = base.dequantize(dtype=torch.float32)  # each Linear4bit -> an nn.Linear with its dequantized weight
        return PeftModel.from_pretrained(base, model_dir).merge_and_unload()
