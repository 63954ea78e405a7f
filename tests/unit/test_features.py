"""Encoding: exact label masks for both families, EOS always last, prefixes and placeholders."""

from __future__ import annotations

import pytest

from sumexp.features import IGNORE_INDEX, Encoder, with_eos
from sumexp.models.loading import PLACEHOLDERS

DIALOGUE = "#Person1#: 내일 도서관에서 만나요.\n#Person2#: 좋아요, #PhoneNumber#로 연락할게요."
SUMMARY = "#Person1#과 #Person2#는 내일 도서관에서 만난다."


def encoder_for(tokenizers, name, compose_config, **overrides) -> Encoder:
    cfg = compose_config([f"model={name}"]).model
    is_seq2seq = name in ("tiny_bart", "tiny_t5")
    encoder = Encoder.from_config(cfg, tokenizers[name], is_seq2seq)
    for key, value in overrides.items():
        setattr(encoder, key, value)
    return encoder


def ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_tiny_tokenizers_add_no_special_tokens(tiny_tokenizers):
    """The tiny tokenizers have no post-processor, like KoBART's: the encoder must add EOS itself."""
    for tok in tiny_tokenizers.values():
        assert tok("요약", add_special_tokens=True)["input_ids"] == ids(tok, "요약")


@pytest.mark.parametrize("name", ["tiny_bart", "tiny_t5"])
def test_seq2seq_labels_are_the_summary_then_eos(tiny_tokenizers, compose_config, name):
    tok = tiny_tokenizers[name]
    enc = encoder_for(tiny_tokenizers, name, compose_config)
    features = enc.train_features(DIALOGUE, SUMMARY)
    assert features["labels"] == ids(tok, SUMMARY) + [tok.eos_token_id]
    assert features["input_ids"] == ids(tok, enc.source_prefix + DIALOGUE)
    assert features["attention_mask"] == [1] * len(features["input_ids"])


def test_seq2seq_truncation_keeps_eos_last(tiny_tokenizers, compose_config):
    tok = tiny_tokenizers["tiny_bart"]
    enc = encoder_for(tiny_tokenizers, "tiny_bart", compose_config, max_target_length=5, max_source_length=7)
    features = enc.train_features(DIALOGUE, SUMMARY)
    assert features["labels"] == ids(tok, SUMMARY)[:4] + [tok.eos_token_id]
    assert features["input_ids"] == ids(tok, DIALOGUE)[:7]


def test_t5_prefix_is_applied(tiny_tokenizers, compose_config):
    tok = tiny_tokenizers["tiny_t5"]
    enc = encoder_for(tiny_tokenizers, "tiny_t5", compose_config)
    assert enc.source_prefix == "summarize: "
    prompt = enc.prompt_ids(DIALOGUE)
    assert tok.decode(prompt).startswith("summarize: #Person1#:")
    assert prompt == ids(tok, "summarize: " + DIALOGUE)


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_causal_labels_mask_the_prompt_and_keep_eos(tiny_tokenizers, compose_config, name):
    tok = tiny_tokenizers[name]
    enc = encoder_for(tiny_tokenizers, name, compose_config)
    head, tail = enc.prompt_template.split("{dialogue}")
    prompt = ids(tok, head) + ids(tok, DIALOGUE) + ids(tok, tail)
    target = ids(tok, SUMMARY) + [tok.eos_token_id]
    features = enc.train_features(DIALOGUE, SUMMARY)
    assert features["input_ids"] == prompt + target
    assert features["labels"] == [IGNORE_INDEX] * len(prompt) + target
    assert enc.prompt_ids(DIALOGUE) == prompt  # generation sees exactly the training prompt


def test_causal_truncates_the_dialogue_never_the_summary(tiny_tokenizers, compose_config):
    tok = tiny_tokenizers["tiny_gpt2"]
    enc = encoder_for(tiny_tokenizers, "tiny_gpt2", compose_config, max_source_length=40, max_target_length=3)
    long_dialogue = "\n".join([DIALOGUE] * 10)
    features = enc.train_features(long_dialogue, SUMMARY)
    target = ids(tok, SUMMARY) + [tok.eos_token_id]
    assert len(features["input_ids"]) == 40 + len(target)
    assert features["labels"][-len(target) :] == target
    assert features["labels"][:40] == [IGNORE_INDEX] * 40
    head, tail = enc.prompt_template.split("{dialogue}")
    assert features["input_ids"][-len(target) - len(ids(tok, tail)) : -len(target)] == ids(tok, tail)


def test_collator_masks_padding_in_labels(tiny_tokenizers, compose_config):
    from transformers import DataCollatorForSeq2Seq

    tok = tiny_tokenizers["tiny_llama"]
    tok.padding_side = "right"
    enc = encoder_for(tiny_tokenizers, "tiny_llama", compose_config)
    short, long = enc.train_features("#Person1#: 네.", "짧다."), enc.train_features(DIALOGUE, SUMMARY)
    batch = DataCollatorForSeq2Seq(tok, label_pad_token_id=IGNORE_INDEX, padding=True)([short, long])
    n = len(short["input_ids"])
    pad = len(long["input_ids"]) - n
    assert batch["labels"][0].tolist() == short["labels"] + [IGNORE_INDEX] * pad
    assert batch["attention_mask"][0].tolist() == [1] * n + [0] * pad
    assert batch["input_ids"][0].tolist()[n:] == [tok.pad_token_id] * pad
    assert batch["labels"][1].tolist() == long["labels"]


def test_with_eos_never_doubles_eos_from_a_tokenizer_that_adds_it():
    assert with_eos([5, 6, 2], eos_id=2) == [5, 6, 2]
    assert with_eos([5, 6], eos_id=2) == [5, 6, 2]
    assert with_eos([5, 6, 7, 8, 2], eos_id=2, max_length=3) == [5, 6, 2]


def test_seq2seq_labels_end_in_one_eos_when_the_tokenizer_adds_it(tiny_tokenizers, compose_config):
    """A tokenizer with a post-processor that appends EOS (like T5's) gets no second EOS."""
    from tokenizers.processors import TemplateProcessing

    tok = tiny_tokenizers["tiny_t5"]
    backend = tok.backend_tokenizer
    saved = backend.post_processor
    backend.post_processor = TemplateProcessing(single="$A </s>", special_tokens=[("</s>", tok.eos_token_id)])
    try:
        enc = encoder_for(tiny_tokenizers, "tiny_t5", compose_config)
        labels = enc.train_features(DIALOGUE, SUMMARY)["labels"]
        assert labels == ids(tok, SUMMARY) + [tok.eos_token_id]
    finally:
        backend.post_processor = saved


@pytest.mark.parametrize("name", ["tiny_bart", "tiny_t5", "tiny_gpt2", "tiny_llama"])
def test_placeholders_round_trip(tiny_tokenizers, name):
    tok = tiny_tokenizers[name]
    text = " ".join(PLACEHOLDERS) + "\n#Person1#: 제 번호는 #PhoneNumber#예요."
    encoded = ids(tok, text)
    for placeholder in PLACEHOLDERS:
        assert tok.convert_tokens_to_ids(placeholder) in encoded, f"{placeholder} is not one token"
    assert tok.decode(encoded, skip_special_tokens=True) == text


def test_chat_template_prompt_wraps_the_dialogue_and_fits_the_budget(tiny_tokenizers, compose_config):
    """Instruct models: the prompt is a user turn of the chat template, cut to max_source_length."""
    tok = tiny_tokenizers["tiny_llama"]
    saved = tok.chat_template
    tok.chat_template = (
        "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>{% endfor %}"
        "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
    )
    try:
        enc = encoder_for(
            tiny_tokenizers,
            "tiny_llama",
            compose_config,
            use_chat_template=True,
            prompt_template="요약하세요.\n{dialogue}",
        )
        prompt = enc.prompt_ids(DIALOGUE)
        expected = tok.apply_chat_template(
            [{"role": "user", "content": "요약하세요.\n" + DIALOGUE}],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=False,
        )
        assert prompt == list(expected)
        features = enc.train_features(DIALOGUE, SUMMARY)
        assert features["labels"] == [IGNORE_INDEX] * len(prompt) + ids(tok, SUMMARY) + [tok.eos_token_id]
        enc.max_source_length = 30
        cut = enc.prompt_ids("\n".join([DIALOGUE] * 5))
        assert len(cut) <= 32 and tok.decode(cut).endswith("assistant\n")
    finally:
        tok.chat_template = saved


def test_a_tokenizer_without_eos_is_a_user_error(compose_config, sample_texts):
    from sumexp.errors import UserError
    from sumexp.models.loading import load_tokenizer

    cfg = compose_config(["model=tiny_gpt2", "~model.tokenizer_kwargs.eos_token"]).model
    assert "eos_token" not in cfg.tokenizer_kwargs
    with pytest.raises(UserError, match="no EOS token"):
        load_tokenizer(cfg, sample_texts[:50])
