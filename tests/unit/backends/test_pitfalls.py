"""The known pitfalls of adapter training, one test each: placeholder rows, bitsandbytes' CPU
repacking, GPT-2's Conv1D, T5 and fp16, checkpointing through 4-bit layers, wrapping twice."""

from __future__ import annotations

import itertools
import warnings

import pytest

from sumexp.models.loading import PLACEHOLDERS
from sumexp.schema import GenerationConfig


def build(compose_config, tiny_tokenizers, tmp_path, model, backend, *overrides):
    """(model config, built model, tokenizer, a training batch) through the backend, as a run builds it."""
    import torch
    from transformers import DataCollatorForSeq2Seq

    from sumexp.backends.matrix import backend_for
    from sumexp.data.sample import make_sample_splits
    from sumexp.features import IGNORE_INDEX, Encoder
    from sumexp.models.loading import load_model_config

    torch.manual_seed(0)
    cfg = compose_config([f"model={model}", f"backend={backend}", *overrides])
    tok = tiny_tokenizers[model]
    config = load_model_config(cfg.model, tok)
    built = backend_for(cfg.backend, backend).build(cfg, tok, config, tmp_path / "model")
    encoder = Encoder.from_config(cfg.model, tok, config.is_encoder_decoder)
    rows = make_sample_splits()["train"].head(6)
    features = [encoder.train_features(d, s) for d, s in zip(rows["dialogue"], rows["summary"])]
    batch = DataCollatorForSeq2Seq(tok, label_pad_token_id=IGNORE_INDEX, padding=True)(features)
    return cfg, built.model, tok, batch


def train(model, batch, steps: int, lr: float = 1e-2) -> None:
    import torch

    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    for _ in range(steps):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def effective_rows(model, vocab_size: int):
    """The embedding and output-head rows the forward really uses, token adapters included."""
    import torch

    with torch.no_grad():
        embedding = model.get_input_embeddings()(torch.arange(vocab_size)).clone()
        head = model.get_output_embeddings()
        hidden = embedding.shape[1]
        output = head(torch.eye(hidden, dtype=embedding.dtype)).T.clone() if head is not None else None
    return embedding, output


def changed_rows(before, after) -> set[int]:
    return {int(i) for i in (before != after).any(dim=1).nonzero().flatten()}


@pytest.mark.slow
@pytest.mark.parametrize("model, backend", [("tiny_llama", "lora"), ("tiny_bart", "lora"), ("tiny_llama", "qlora")])
def test_placeholder_rows_train_and_no_other_row_moves(compose_config, tiny_tokenizers, tmp_path, model, backend):
    _, peft_model, tok, batch = build(compose_config, tiny_tokenizers, tmp_path, model, backend)
    placeholders = {tok.convert_tokens_to_ids(p) for p in PLACEHOLDERS}
    in_text = placeholders & set(batch["input_ids"].flatten().tolist())
    assert len(in_text) >= 2  # #Person1#, #Person2#: the batch really exercises the new rows
    embedding, output = effective_rows(peft_model, len(tok))
    train(peft_model, batch, steps=3)
    embedding_after, output_after = effective_rows(peft_model, len(tok))
    assert in_text <= changed_rows(embedding, embedding_after) <= placeholders
    # Llama's head is untied: its placeholder rows must train too, or the model could never write them.
    assert in_text <= changed_rows(output, output_after) <= placeholders


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny_t5", "tiny_bart"])
def test_qlora_adapters_still_learn_after_an_evaluation(compose_config, tiny_tokenizers, tmp_path, model):
    """bitsandbytes 0.50 repacks 4-bit weights on the first no-grad forward on AVX512-BF16 CPUs (this
    one has them): afterwards T5's LoRA gradients are zero and BART's biased layers crash."""
    import bitsandbytes as bnb

    from sumexp.features import Encoder
    from sumexp.generation import generate_summaries

    cfg, peft_model, tok, batch = build(compose_config, tiny_tokenizers, tmp_path, model, "qlora")
    layers = [m for m in peft_model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and all(layer.support_avx512bf16_for_cpu is False for layer in layers)
    encoder = Encoder.from_config(cfg.model, tok, peft_model.config.is_encoder_decoder)
    generate_summaries(
        peft_model, tok, [encoder.prompt_ids("#Person1#: 안녕하세요.")] * 2, GenerationConfig(num_beams=1), 4, 2
    )
    lora_b = {name: p.detach().clone() for name, p in peft_model.named_parameters() if "lora_B" in name}
    train(peft_model, batch, steps=2)
    moved = [name for name, p in peft_model.named_parameters() if name in lora_b and not p.detach().equal(lora_b[name])]
    assert moved and sorted(moved) == sorted(lora_b)


def test_gpt2_conv1d_adapters_use_fan_in_fan_out_and_merge_exactly(compose_config, tiny_tokenizers, tmp_path):
    import torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, peft_model, _, batch = build(compose_config, tiny_tokenizers, tmp_path, "tiny_gpt2", "lora")
    assert peft_model.peft_config["default"].fan_in_fan_out is True
    assert not [w for w in caught if "fan_in_fan_out" in str(w.message)]  # set by sumexp, not corrected by peft
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.05)  # a trained-looking adapter, so a transposed merge would show
        peft_model.eval()
        adapted = peft_model(**batch).logits
        merged = peft_model.merge_and_unload()(**batch).logits
    assert not torch.allclose(adapted, torch.zeros_like(adapted))
    torch.testing.assert_close(merged, adapted, atol=1e-4, rtol=1e-4)


def test_gpt2_under_qlora_has_no_conv1d_left_to_flip(compose_config, tiny_tokenizers, tmp_path):
    _, peft_model, _, _ = build(compose_config, tiny_tokenizers, tmp_path, "tiny_gpt2", "qlora")
    assert peft_model.peft_config["default"].fan_in_fan_out is False  # bitsandbytes made its Conv1Ds Linear4bit


def test_t5_family_never_computes_in_fp16_under_any_backend_setting():
    import torch

    from sumexp.backends.qlora import compute_dtype

    for setting, optim, cuda, bf16 in itertools.product(
        ("auto", "bf16", "fp16", "fp32"), ("auto", "bf16", "fp16", "fp32"), (False, True), (False, True)
    ):
        assert compute_dtype(setting, optim, allow_fp16=False, cuda=cuda, bf16=bf16 and cuda) != torch.float16
    assert compute_dtype("fp16", "auto", allow_fp16=True, cuda=True, bf16=True) == torch.float16  # the guard does it
    assert compute_dtype("auto", "auto", allow_fp16=True, cuda=False, bf16=False) == torch.float32


def test_gradient_checkpointing_through_4bit_layers_still_trains_the_adapters(
    compose_config, tiny_tokenizers, tmp_path
):
    _, peft_model, _, batch = build(
        compose_config, tiny_tokenizers, tmp_path, "tiny_llama", "qlora", "optim.gradient_checkpointing=true"
    )
    assert peft_model.get_base_model().is_gradient_checkpointing
    peft_model.train()
    peft_model(**batch).loss.backward()
    grads = [p.grad for name, p in peft_model.named_parameters() if "lora_B" in name]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_wrapping_twice_keeps_one_set_of_adapters(compose_config, tiny_tokenizers, tmp_path):
    from sumexp.backends.matrix import backend_for

    cfg, peft_model, tok, _ = build(compose_config, tiny_tokenizers, tmp_path, "tiny_bart", "lora")
    names = [name for name, _ in peft_model.named_parameters()]
    again = backend_for(cfg.backend, "lora").add_adapters(peft_model, tok, peft_model.config, cfg)
    assert again is peft_model and [name for name, _ in again.named_parameters()] == names
