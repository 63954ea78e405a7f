"""Generation: the padding side each family needs, only new tokens decoded, results independent of batching."""

from __future__ import annotations

import pytest

from sumexp.features import Encoder
from sumexp.generation import generate_summaries
from sumexp.schema import GenerationConfig

DIALOGUES = [
    "#Person1#: 안녕하세요.",
    "#Person1#: 내일 도서관에서 만나요.\n#Person2#: 좋아요, 오후 3시에 봐요.\n#Person1#: 네.",
]


def build(compose_config, tiny_tokenizers, name, overrides=()):
    import torch

    from sumexp.models.loading import load_model, load_model_config

    torch.manual_seed(0)
    cfg = compose_config([f"model={name}", *overrides]).model
    tok = tiny_tokenizers[name]
    config = load_model_config(cfg, tok)
    return load_model(cfg, tok, config), tok, Encoder.from_config(cfg, tok, config.is_encoder_decoder)


@pytest.mark.parametrize("name", ["tiny_gpt2", "tiny_llama"])
def test_causal_generation_returns_only_the_new_tokens(compose_config, tiny_tokenizers, name):
    import torch

    model, tok, enc = build(compose_config, tiny_tokenizers, name)
    gen = GenerationConfig(num_beams=1)
    prompts = [enc.prompt_ids(d) for d in DIALOGUES]
    batched = generate_summaries(model, tok, prompts, gen, max_new_tokens=6, batch_size=2)
    for prompt, text in zip(prompts, batched):
        # The reference: generate for this prompt alone (no padding), cut at the prompt's length.
        with torch.no_grad():
            out = model.generate(
                torch.tensor([prompt]),
                max_new_tokens=6,
                do_sample=False,
                num_beams=1,
                pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id,
            )
        new_tokens = out[0, len(prompt) :]
        assert 0 < len(new_tokens) <= 6
        assert text == tok.decode(new_tokens, skip_special_tokens=True).strip()
        assert not text.startswith("다음 대화를")


def test_seq2seq_generation_is_independent_of_batching(compose_config, tiny_tokenizers):
    model, tok, enc = build(compose_config, tiny_tokenizers, "tiny_t5")
    prompts = [enc.prompt_ids(d) for d in DIALOGUES]
    gen = GenerationConfig(num_beams=2)
    together = generate_summaries(model, tok, prompts, gen, max_new_tokens=5, batch_size=2)
    alone = [generate_summaries(model, tok, [p], gen, max_new_tokens=5, batch_size=1)[0] for p in prompts]
    assert together == alone
    assert all(len(tok(t, add_special_tokens=False)["input_ids"]) <= 5 for t in together)


# At their default scale, random weights write one summary whatever the input, which would
# hide any effect of padding; a larger initial scale makes every summary depend on its dialogue.
INPUT_SENSITIVE = {
    "tiny_bart": ["+model.scratch.config.init_std=0.5"],
    "tiny_t5": ["+model.scratch.config.initializer_factor=10.0"],
    "tiny_gpt2": ["+model.scratch.config.initializer_range=0.5"],
    "tiny_llama": ["+model.scratch.config.initializer_range=0.5"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny_bart", "tiny_t5", "tiny_gpt2", "tiny_llama"])
def test_predictions_do_not_depend_on_the_batch(compose_config, tiny_tokenizers, name):
    """The 50 sample dev dialogues (32-43 tokens) one at a time and in one padded batch: the same
    summaries. Left-padding BART's source moves its tokens to other learned positions and breaks this
    (49 of 50 differ when measured)."""
    from sumexp.data.sample import make_sample_splits

    model, tok, enc = build(compose_config, tiny_tokenizers, name, INPUT_SENSITIVE.get(name, ()))
    prompts = [enc.prompt_ids(d) for d in make_sample_splits()["dev"]["dialogue"]]
    assert len({len(p) for p in prompts}) > 5  # the batch really pads
    gen = GenerationConfig(num_beams=1)
    alone = generate_summaries(model, tok, prompts, gen, max_new_tokens=8, batch_size=1)
    together = generate_summaries(model, tok, prompts, gen, max_new_tokens=8, batch_size=len(prompts))
    assert together == alone
    assert len(set(alone)) > len(alone) // 2  # not a degenerate output that would hide a difference


def test_padding_side_follows_the_family():
    from sumexp.generation import padding_side

    assert padding_side(is_encoder_decoder=True) == "right"
    assert padding_side(is_encoder_decoder=False) == "left"
