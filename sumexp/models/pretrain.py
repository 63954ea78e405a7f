"""Pretrain a scratch model's base as a language model on the training dialogues, never the summaries.

Adapters are made for a pretrained base; on random weights they learn nothing a user would see. So a
scratch model with model.scratch.pretrain.steps > 0 first learns the dialogues' language: a causal model
predicts the next token of dialogue text; an encoder-decoder rebuilds a block of dialogue text from a
copy with spans deleted (BART-style denoising, which also teaches its decoder to copy from the encoder,
as summarizing needs). sumexp/models/base_cache.py keeps the result, so runs share it like a checkpoint.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time

import numpy as np

from sumexp.errors import UserError

log = logging.getLogger(__name__)

DELETED_SHARE = 0.15  # encoder-decoders: the share of a block's tokens deleted from the encoder input
SPAN_LENGTH = 3  # mean length of a deleted span (Poisson), as in BART's text infilling


def dialogue_blocks(tokenizer, dialogues: list[str], block_size: int) -> list[list[int]]:
    """The dialogues' tokens, each dialogue ended by EOS, cut into blocks of `block_size` (the short rest dropped)."""
    stream: list[int] = []
    for ids in tokenizer(dialogues, add_special_tokens=False)["input_ids"]:
        stream += ids + [tokenizer.eos_token_id]
    return [stream[i : i + block_size] for i in range(0, len(stream) - block_size + 1, block_size)]


def lm_examples(tokenizer, dialogues: list[str], is_encoder_decoder: bool, settings) -> list[dict]:
    """What the model trains on: causal, a block predicting itself; encoder-decoder, a block with spans
    deleted as input and the whole block as labels. Deterministic in settings.seed."""
    blocks = dialogue_blocks(tokenizer, dialogues, settings.block_size)
    if not blocks:
        raise UserError(
            f"model.scratch.pretrain.block_size={settings.block_size}: the training dialogues hold fewer tokens than "
            f"one block; lower it or train on more data"
        )
    if not is_encoder_decoder:
        return [{"input_ids": block, "labels": block} for block in blocks]
    rng = np.random.default_rng(settings.seed)
    return [{"input_ids": delete_spans(block, rng), "labels": block} for block in blocks]


def delete_spans(block: list[int], rng) -> list[int]:
    """`block` with spans of Poisson length removed until about DELETED_SHARE of its tokens are gone."""
    keep = np.ones(len(block), dtype=bool)
    target = max(1, round(len(block) * DELETED_SHARE))
    while (~keep).sum() < target:
        length = max(1, int(rng.poisson(SPAN_LENGTH)))
        start = int(rng.integers(0, max(1, len(block) - length)))
        keep[start : start + length] = False
    return [token for token, kept in zip(block, keep) if kept]


def pretrain(model, tokenizer, examples: list[dict], settings) -> dict:
    """Train `model` in place for settings.steps steps with the Trainer; returns what base.json records of it."""
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sumexp-pretrain-") as scratch_dir:
        args = TrainingArguments(
            output_dir=scratch_dir,
            max_steps=settings.steps,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            lr_scheduler_type="linear",
            warmup_steps=math.ceil(settings.steps / 20),
            logging_steps=max(1, settings.steps // 10),
            save_strategy="no",
            report_to="none",
            seed=settings.seed,
            data_seed=settings.seed,
            disable_tqdm=True,
            dataloader_num_workers=0,
            dataloader_pin_memory=False,
        )
        collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)
        trainer = Trainer(model=model, args=args, train_dataset=examples, data_collator=collator)
        trainer.remove_callback(PrinterCallback)  # the losses go to the log and base.json, not the terminal
        trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    seconds = time.perf_counter() - started
    first, last = (losses[0], losses[-1]) if losses else (math.nan, math.nan)
    log.info("pretrained the base: %d steps in %.1f s, loss %.2f -> %.2f", settings.steps, seconds, first, last)
    return {
        "blocks": len(examples),
        "tokens": sum(len(e["labels"]) for e in examples),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "seconds": round(seconds, 2),
    }
