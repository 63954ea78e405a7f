"""Tiny models saved to folders shaped like the real hub checkpoints sumexp supports.

No hub is reachable here, so the code that loads real checkpoints is proved on these: the same
files, tokenizer kinds and special-token conventions as the originals, with random weights small
enough to train in seconds. Each builder takes the texts its vocabulary is trained on and returns
the folder, ready for `model.checkpoint=FOLDER`.
- KoBART (gogamza/kobart-base-v2): character BPE with Metaspace, tokenizer.json + vocab.json +
  merges.txt + special_tokens_map.json, a BART config, and no tokenizer_config.json.
- KoGPT2 (skt/kogpt2-base-v2): the same kind of tokenizer with a GPT-2 config; its special tokens
  are in the vocabulary but named nowhere, so only model.tokenizer_kwargs makes them known.
- T5 (google-t5/t5-base): a SentencePiece unigram model (spiece.model) whose tokenizer adds EOS.
- Qwen2.5-Instruct: a byte-level BPE with a chat template and <|im_end|> as EOS.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

KOBART_SPECIALS = ["<s>", "</s>", "<unk>", "<pad>", "<mask>"]  # ids 0..4, as in KoBART
QWEN_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SIZES = {  # small enough to learn the sample in seconds, the same for every family
    "bart": dict(
        d_model=128,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=256,
        decoder_ffn_dim=256,
    ),
    "gpt2": dict(n_embd=128, n_layer=2, n_head=4),
    "t5": dict(d_model=128, d_kv=32, d_ff=256, num_layers=2, num_decoder_layers=2, num_heads=4),
    "qwen2": dict(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    ),
}


def _char_bpe(texts: list[str], specials: list[str], vocab_size: int = 2000):
    """A character (not byte-level) BPE with Metaspace pieces, as KoBART and KoGPT2 were trained."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def save_kobart_like(folder: Path, texts: list[str]) -> Path:
    from transformers import BartConfig, BartForConditionalGeneration

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _char_bpe(texts, KOBART_SPECIALS)
    tokenizer.save(str(folder / "tokenizer.json"))
    tokenizer.model.save(str(folder))  # vocab.json, merges.txt
    names = ("bos_token", "eos_token", "unk_token", "pad_token", "mask_token")
    (folder / "special_tokens_map.json").write_text(json.dumps(dict(zip(names, KOBART_SPECIALS))))
    config = BartConfig(
        vocab_size=tokenizer.get_vocab_size(),
        max_position_embeddings=1026,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=3,
        decoder_start_token_id=1,
        forced_eos_token_id=1,
        **SIZES["bart"],
    )
    _random_weights(BartForConditionalGeneration, config).save_pretrained(folder)
    return folder


def save_kogpt2_like(folder: Path, texts: list[str]) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _char_bpe(texts, ["</s>", "<unk>", "<pad>", "<mask>"])
    tokenizer.save(str(folder / "tokenizer.json"))  # no special_tokens_map.json, no tokenizer_config.json
    config = GPT2Config(
        vocab_size=tokenizer.get_vocab_size(), n_positions=1024, bos_token_id=0, eos_token_id=0, **SIZES["gpt2"]
    )
    _random_weights(GPT2LMHeadModel, config).save_pretrained(folder)
    return folder


def save_t5_like(folder: Path, texts: list[str]) -> Path:
    import sentencepiece as spm
    from transformers import T5Config, T5ForConditionalGeneration

    folder.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    # T5's ids: pad 0, EOS 1, unk 2, no BOS; the prefix is in the corpus, as English is in T5's.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(["summarize: " + t for t in texts]),
        model_writer=model,
        vocab_size=2000,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    (folder / "spiece.model").write_bytes(model.getvalue())
    vocab_size = spm.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size()
    config = T5Config(vocab_size=vocab_size, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **SIZES["t5"])
    _random_weights(T5ForConditionalGeneration, config).save_pretrained(folder)
    return folder


def save_qwen_like(folder: Path, texts: list[str]) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=QWEN_CHAT_TEMPLATE
    )
    wrapped.save_pretrained(folder)
    _set_tokenizer_class(folder, "Qwen2Tokenizer")
    config = Qwen2Config(
        vocab_size=len(wrapped),
        max_position_embeddings=2048,
        bos_token_id=0,
        eos_token_id=wrapped.eos_token_id,
        pad_token_id=wrapped.pad_token_id,
        **SIZES["qwen2"],
    )
    _random_weights(Qwen2ForCausalLM, config).save_pretrained(folder)
    return folder


def _random_weights(model_class, config, seed: int = 0):
    """The model with seeded random weights: every test run trains from the same start."""
    import torch

    torch.manual_seed(seed)
    return model_class(config)


def _set_tokenizer_class(folder: Path, name: str) -> None:
    """Name the class the way the real repository's tokenizer_config.json does."""
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["tokenizer_class"] = name
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2))


HUB_SHAPES = {  # builder and the model option whose loading code it proves
    "kobart": (save_kobart_like, "kobart"),
    "kogpt2": (save_kogpt2_like, "kogpt2"),
    "t5": (save_t5_like, "t5_base"),
    "qwen": (save_qwen_like, "qwen2_5_0_5b"),
}
