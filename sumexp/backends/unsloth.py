"""unsloth: FastLanguageModel for causal models, FastModel for encoder-decoders on a GPU; LoRA
adapters, 4-bit base where backend.quantization is set. On a CPU unsloth's loader builds stock
transformers + bitsandbytes + peft, so the run is recorded as qlora (or lora) with a note.

unsloth patches transformers, peft and trl for the whole process and must be imported before
them: the backend matrix imports it before anything else loads transformers, and refuses a
process where that already happened.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sumexp.backends import adapters, probes
from sumexp.backends.base import BuiltModel
from sumexp.backends.lora import LoRA
from sumexp.backends.qlora import compute_dtype, keep_4bit_weights_trainable
from sumexp.errors import UserError
from sumexp.models.loading import fit_to_tokenizer

log = logging.getLogger(__name__)


class Unsloth(LoRA):
    def prepare_process(self) -> None:
        why = probes.unsloth_importable()  # raises when transformers came first
        if why is not None:
            raise UserError(f"backend=unsloth: {why}")

    def build(self, cfg, tokenizer, model_config, model_dir: Path, base: str | None = None) -> BuiltModel:
        family = "seq2seq" if model_config.is_encoder_decoder else "causal"
        if self.family is not None and self.family != family:  # the matrix decided on the wrong family: a bug
            raise RuntimeError(
                f"the backend matrix took model={cfg.model.name} for {self.family}; its config says {family}"
            )
        folder = adapters.base_folder(cfg, tokenizer, model_config, model_dir, base)
        if folder is None:  # unsloth loads a tokenizer too: give it this run's, placeholders included
            tokenizer.save_pretrained(model_dir)
        model = self.load_base(cfg, tokenizer, model_config, folder, tokenizer_dir=folder or str(model_dir))
        quantized = getattr(model, "is_loaded_in_4bit", False)
        if self.quantization is not None and not quantized:
            self.note = "; ".join(
                filter(None, [self.note, "unsloth loaded the base unquantized: bitsandbytes 4-bit does not run here"])
            )
        model = self.add_adapters(model, tokenizer, model_config, cfg)
        if _cpu_backend():
            return self.cpu_loader_built(cfg, model, quantized)
        return self.built(model)

    def cpu_loader_built(self, cfg, model, quantized: bool) -> BuiltModel:
        """On a CPU the run is recorded as what it computes, qlora (lora with an unquantized base), not as
        unsloth: unsloth's CPU loader (unsloth_zoo.cpu.FastCPUModel) builds stock AutoModelForCausalLM with
        a BitsAndBytesConfig (NF4, double quantization) and peft's get_peft_model; its chunked cross-entropy
        switches on only inside TRL's SFTTrainer.compute_loss, which sumexp's Trainer never calls, and no
        unsloth kernel exists for a CPU. Recorded as unsloth it would stand beside qlora in a report as
        another backend with identical computation; predict reloads it with the qlora backend."""
        effective = "qlora" if quantized else "lora"
        why = (
            f"backend=unsloth on cpu: unsloth's CPU loader (unsloth_zoo.cpu.FastCPUModel) built stock transformers "
            f"+ bitsandbytes + peft; no unsloth kernel or loss ran; recorded as {effective}"
        )
        self.note = "; ".join(filter(None, [why, self.note]))
        log.warning("%s", self.note)
        return BuiltModel(model=model, effective_backend=effective, note=self.note)

    def load_base(self, cfg, tokenizer, model_config, folder: str | None, tokenizer_dir: str | None = None):
        import torch

        model, _ = _fast_class(model_config).from_pretrained(
            model_name=folder or cfg.model.checkpoint,
            tokenizer_name=tokenizer_dir or folder or cfg.model.checkpoint,
            max_seq_length=_max_seq_length(cfg.model, model_config),
            dtype=compute_dtype("auto", cfg.optim.precision, cfg.model.allow_fp16),  # never fp16 for the T5 family
            load_in_4bit=self.quantization is not None,
            use_gradient_checkpointing=cfg.optim.gradient_checkpointing,
            trust_remote_code=cfg.model.trust_remote_code,
            use_exact_model_name=True,  # no swap to a pre-quantized hub copy: the weights named are the weights used
        )
        keep_4bit_weights_trainable(model)  # unsloth's CPU path does this too; its GPU path has no such kernel
        torch.manual_seed(cfg.seed)  # rows added by resizing are drawn at random: the same rows when predicting
        return fit_to_tokenizer(model, tokenizer)

    def trained_base(self, cfg, tokenizer, model_dir: Path):
        """The base as unsloth loaded it (4-bit where backend.quantization is set); load_trained and the
        4-bit-aware load_merged are LoRA's."""
        folder = adapters.saved_base_folder(cfg, model_dir)
        config = adapters.base_config(cfg, tokenizer, folder)
        return self.load_base(cfg, tokenizer, config, folder, tokenizer_dir=str(model_dir))

    def add_adapters(self, model, tokenizer, model_config, cfg):
        from peft import PeftModel

        if isinstance(model, PeftModel):  # a resumed run: already wrapped
            return model
        kwargs = adapters.lora_kwargs(self.lora, model, tokenizer)
        if model_config.is_encoder_decoder:
            kwargs["task_type"] = "SEQ_2_SEQ_LM"
        model = _fast_class(model_config).get_peft_model(
            model, use_gradient_checkpointing=cfg.optim.gradient_checkpointing, random_state=cfg.seed, **kwargs
        )
        if self.lora.train_new_tokens:
            adapters.check_token_rows_reach(model, len(tokenizer))
        return model


def _cpu_backend() -> bool:
    """unsloth chose its CPU backend (no accelerator): stock libraries under unsloth's names."""
    import unsloth

    return getattr(unsloth, "DEVICE_TYPE", None) == "cpu"


def _fast_class(model_config):
    from unsloth import FastLanguageModel, FastModel

    return FastModel if model_config.is_encoder_decoder else FastLanguageModel


def _max_seq_length(model_cfg, model_config) -> int:
    """The longest sequence a training example makes: the source (seq2seq) or prompt plus summary (causal)."""
    if model_config.is_encoder_decoder:
        return max(model_cfg.max_source_length, model_cfg.max_target_length)
    return model_cfg.max_source_length + model_cfg.max_target_length
