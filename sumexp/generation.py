"""Generate summaries in batches: padding on the side each family needs, only new tokens decoded."""

from __future__ import annotations


def new_token_limit(cfg) -> int:
    """Summary tokens to generate at most: generation.max_new_tokens, else the model's target length."""
    return cfg.generation.max_new_tokens or cfg.model.max_target_length


def generate_summaries(
    model,
    tokenizer,
    prompts: list[list[int]],
    gen_cfg,
    max_new_tokens: int,
    batch_size: int,
    desc: str = "generate",
    progress: bool = False,
    should_stop=None,
) -> list[str]:
    """One summary per prompt, in the prompts' order; a progress bar only when asked (verbose).
    `should_stop()`, asked before every batch, ends it early with EvaluationStopped (a signal arrived)."""
    from tqdm.auto import tqdm

    from sumexp.errors import EvaluationStopped

    # Similar lengths in a batch waste less compute on padding; the order is restored at the end.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    summaries: list[str] = [""] * len(prompts)
    was_training = model.training
    model.eval()
    try:
        for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", leave=False, disable=not progress):
            if should_stop is not None and should_stop():
                raise EvaluationStopped("a stop was asked for during generation")
            indices = order[start : start + batch_size]
            texts = _generate_batch(model, tokenizer, [prompts[i] for i in indices], gen_cfg, max_new_tokens)
            for i, text in zip(indices, texts):
                summaries[i] = text.strip()
    finally:
        model.train(was_training)
    return summaries


def _generate_batch(model, tokenizer, prompts: list[list[int]], gen_cfg, max_new_tokens: int) -> list[str]:
    import torch

    side = padding_side(model.config.is_encoder_decoder)
    batch = tokenizer.pad({"input_ids": prompts}, padding_side=side, return_tensors="pt").to(model.device)
    with torch.no_grad():
        output = model.generate(
            **batch,
            num_beams=gen_cfg.num_beams,
            max_new_tokens=max_new_tokens,
            no_repeat_ngram_size=gen_cfg.no_repeat_ngram_size,
            length_penalty=gen_cfg.length_penalty,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    new_tokens = output if model.config.is_encoder_decoder else output[:, batch["input_ids"].shape[1] :]
    return tokenizer.batch_decode(new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def padding_side(is_encoder_decoder: bool) -> str:
    """Right for encoder-decoders, as in training: BART's learned absolute positions would move every
    token of a left-padded source. Left for decoder-only models, whose new tokens must follow the
    prompt directly."""
    return "right" if is_encoder_decoder else "left"
