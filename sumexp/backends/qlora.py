"""QLoRA: the frozen base in bitsandbytes 4-bit (NF4, double quantization), LoRA adapters on top."""

from __future__ import annotations

from sumexp.backends.lora import LoRA
from sumexp.models.loading import load_model
from sumexp.schema import QuantizationSettings

DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


class QLoRA(LoRA):
    def load_base(self, cfg, tokenizer, model_config, folder: str | None):
        import torch
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        settings = self.quantization or QuantizationSettings()
        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=settings.quant_type,
            bnb_4bit_use_double_quant=settings.double_quant,
            bnb_4bit_compute_dtype=compute_dtype(settings.compute_dtype, cfg.optim.precision, cfg.model.allow_fp16),
        )
        torch.manual_seed(cfg.seed)  # rows added by resizing are drawn at random: the same rows when predicting
        model = load_model(
            cfg.model, tokenizer, model_config, folder=folder, dtype=torch.float32, quantization_config=quantization
        )
        keep_4bit_weights_trainable(model)
        # Checkpointing through frozen 4-bit layers: non-reentrant, so LoRA gradients flow without
        # the inputs needing grad; transformers' Trainer enables it the same way (optim.gradient_checkpointing).
        return prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=cfg.optim.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )


def keep_4bit_weights_trainable(model) -> int:
    """Stop bitsandbytes (0.50) repacking 4-bit weights for its AVX512-BF16 CPU kernel.

    The first forward without grad (any evaluation or generate) repacks each Linear4bit weight in
    place and never unpacks it; afterwards LoRA gradients are silently zero (T5, Llama) or layers
    with a bias crash (BART, GPT-2, Qwen2). Returns how many layers it set.
    """
    import bitsandbytes as bnb

    count = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            count += 1
    return count


def compute_dtype(
    setting: str, optim_precision: str, allow_fp16: bool, cuda: bool | None = None, bf16: bool | None = None
):
    """The torch dtype 4-bit layers compute in: the training precision (auto) or the one asked for,
    through the same guard as training, so a T5-family model never computes in fp16."""
    import torch

    from sumexp.training.precision import resolve_precision

    if cuda is None:
        cuda = torch.cuda.is_available()
        bf16 = cuda and torch.cuda.is_bf16_supported()
    requested = optim_precision if setting == "auto" else setting
    precision, _ = resolve_precision(requested, allow_fp16, cuda, bool(bf16))
    return getattr(torch, DTYPES[precision])
