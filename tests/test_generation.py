"""Generation: left padding, only new tokens decoded, results independent of batching."""
from __future__ import annotations

import pytest

from sumexp.encoding import Encoder
from sumexp.generation import generate_summaries
from sumexp.schema import GenerationConfig

DIALOGUES = ["#Person1#: 안녕하세요.", "#Person1#: 내일 도서관에서 만나요.\n#Person2#: 좋아요, 오후 3시에 봐요.\n#Person1#: 네."]


def build(compose_config, tiny_tokenizers, name):
    import torch

    from sumexp.models.loading import load_model, load_model_config

    torch.manual_seed(0)
    cfg = compose_config([f"model={name}"]).model
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
            out = model.generate(torch.tensor([prompt]), max_new_tokens=6, do_sample=False, num_beams=1,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        new_tokens = out[0, len(prompt):]
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
