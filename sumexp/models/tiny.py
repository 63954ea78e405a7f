"""Tiny offline models: a tokenizer trained on the run's own text and random weights from a config."""

from __future__ import annotations

from collections.abc import Iterable


def train_tokenizer(texts: Iterable[str], vocab_size: int, special_tokens: dict[str, str]):
    """A byte-level BPE tokenizer trained on `texts`, wrapped as a transformers fast tokenizer.

    It has no post-processor on purpose: like KoBART's, it adds no BOS or EOS by itself, so the
    encoding code must add EOS to every label sequence (and the tests check that it does).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(dict.fromkeys(special_tokens.values())),  # unique, in a stable order
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **special_tokens)


def build_config(model_type: str, tokenizer, overrides: dict):
    """A transformers config for `model_type` sized by `overrides`, with the tokenizer's ids wired in."""
    from transformers import AutoConfig

    ids = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    config = AutoConfig.for_model(model_type, **ids, **overrides)
    if getattr(config, "forced_eos_token_id", None) is not None:  # BART: the default id 2 means nothing here
        config.forced_eos_token_id = tokenizer.eos_token_id
    if config.is_encoder_decoder:
        # Start decoding from the pad token, as T5 does; any fixed id works for a model trained from scratch.
        config.decoder_start_token_id = tokenizer.pad_token_id
    return config
