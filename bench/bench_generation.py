"""Evaluation: sumexp's dev generation against HF Seq2SeqTrainer.predict(predict_with_generate=True).

Run: python bench/bench_generation.py [--repeat N] [--batch-size B] [--max-new-tokens N] [--quick]

Both generate greedily, batch 32, right-padded sources, in one process on the same model and the
same token ids: the 499 dialogues of ../shared/data/dialogsum-ko/dev.csv (skipped with the reason
when absent). The model is a BART with 4 encoder and 4 decoder layers, d_model 256, 4 heads,
FFN 1024, and a byte-level BPE tokenizer trained on the same file, as sumexp builds tiny models;
its weights are random, every weight matrix scaled x4 after initialisation so that the summary
depends on the dialogue (at the default scale nearly every dialogue gets the same one). A random
model never writes EOS, so every summary runs to --max-new-tokens: the fixed decoding work of
a long summary. sumexp sorts the dialogues by length before batching; HF keeps the dataset
order. Both take their best of N, in turns. The summaries must be identical. Target: >= 1.5x.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from bench.common import KO_DEV, best_of_alternating, fail, header, parser, table, timed, verdict  # noqa: E402

TARGET = 1.5
SHAPE = dict(
    d_model=256,
    encoder_layers=4,
    decoder_layers=4,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=1024,
    decoder_ffn_dim=1024,
    max_position_embeddings=1024,
)
QUICK_SHAPE = dict(SHAPE, d_model=64, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=128, decoder_ffn_dim=128)
INIT_SCALE = 4.0
QUICK_INIT_SCALE = 16.0  # the one-layer quick model needs more to make each summary depend on its dialogue
MAX_SOURCE_LENGTH = 512
GREEDY = SimpleNamespace(num_beams=1, no_repeat_ngram_size=0, length_penalty=1.0)  # sumexp's generation config


def load_dialogues(quick: bool):
    """(dialogues, summaries, where from), or None when the Korean dev set is absent outside --quick.

    --quick always takes the shipped sample, so that it checks the same thing on every machine."""
    from sumexp.data.tables import read_table

    if quick:
        from sumexp.data.sample import make_sample_splits

        frame = make_sample_splits()["dev"].head(24)
        return list(frame["dialogue"]), list(frame["summary"]), "sumexp's sample (dev split)"
    if not KO_DEV.is_file():
        return None
    frame = read_table(KO_DEV)
    return list(frame["dialogue"]), list(frame["summary"]), str(KO_DEV)


def hf_predictor(model, tokenizer, batch_size: int, max_new_tokens: int, out_dir: str):
    """What the HF example scripts do: Seq2SeqTrainer.predict with predict_with_generate, then decode.
    The Trainer is built here, outside the timing; the returned function is what is timed."""
    import numpy as np
    from transformers import DataCollatorWithPadding, Seq2SeqTrainer, Seq2SeqTrainingArguments

    args = Seq2SeqTrainingArguments(
        output_dir=out_dir,
        per_device_eval_batch_size=batch_size,
        predict_with_generate=True,
        report_to="none",
        dataloader_pin_memory=False,
        disable_tqdm=True,
    )
    # Not DataCollatorForSeq2Seq: without labels it returns labels=None, which Seq2SeqTrainer takes for
    # labels and fails on (transformers 5.17). Without labels predict() only generates, like sumexp.
    trainer = Seq2SeqTrainer(
        model=model, args=args, data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer
    )

    def predict(prompts: list[list[int]]) -> list[str]:
        dataset = [{"input_ids": p, "attention_mask": [1] * len(p)} for p in prompts]
        output = trainer.predict(dataset, max_new_tokens=max_new_tokens, num_beams=1)
        ids = np.where(output.predictions == -100, tokenizer.pad_token_id, output.predictions)  # cross-batch padding
        texts = tokenizer.batch_decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        return [t.strip() for t in texts]

    return predict


def padding_fraction(lengths: list[int], batch_size: int) -> float:
    """Share of the padded source tensors that is padding, batches taken in the given order."""
    padded = sum(
        max(lengths[i : i + batch_size]) * len(lengths[i : i + batch_size]) for i in range(0, len(lengths), batch_size)
    )
    return 1 - sum(lengths) / padded


def main() -> int:
    p = parser(__doc__, repeat=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-new-tokens", type=int, default=64)
    args = p.parse_args()
    repeat, max_new, batch_size = (1, 8, 8) if args.quick else (args.repeat, args.max_new_tokens, args.batch_size)
    header("Evaluation: dev generation", args)
    loaded = load_dialogues(args.quick)
    if loaded is None:
        print(f"SKIPPED: {KO_DEV} not found (the benchmark needs the 499 Korean dev dialogues)")
        return 0
    dialogues, summaries, source = loaded
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from bench.tiny import save_checkpoint
    from sumexp.features import Encoder
    from sumexp.generation import generate_summaries

    with tempfile.TemporaryDirectory(prefix="sumexp-bench-") as tmp:
        folder = save_checkpoint(
            Path(tmp) / "model",
            dialogues + summaries,
            QUICK_SHAPE if args.quick else SHAPE,
            init_scale=QUICK_INIT_SCALE if args.quick else INIT_SCALE,
        )
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
        encoder = Encoder(
            tokenizer, is_encoder_decoder=True, max_source_length=MAX_SOURCE_LENGTH, max_target_length=max_new
        )
        prompts = [encoder.prompt_ids(d) for d in dialogues]
        hf_predict = hf_predictor(model, tokenizer, batch_size, max_new, tmp)
        hf_predict(prompts[:batch_size])  # warm-up, both paths
        generate_summaries(model, tokenizer, prompts[:batch_size], GREEDY, max_new, batch_size)
        best = best_of_alternating(
            {
                "hf": lambda: timed(lambda: hf_predict(prompts)),
                "sumexp": lambda: timed(
                    lambda: generate_summaries(model, tokenizer, prompts, GREEDY, max_new, batch_size)
                ),
            },
            repeat,
        )
    lengths = [len(p) for p in prompts]
    print(
        f"{len(prompts)} dialogues from {source}; {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, "
        f"torch threads {torch.get_num_threads()}, batch {batch_size}, greedy, max_new_tokens {max_new}, "
        f"best of {repeat}"
    )
    return report(best, lengths, batch_size)


def report(best: dict, lengths: list[int], batch_size: int) -> int:
    (t_hf, ours_hf), (t_ours, ours) = best["hf"], best["sumexp"]
    speedup = t_hf / t_ours
    table(
        ["", "source padding", "seconds", "speed-up", "target"],
        [
            [
                "HF Seq2SeqTrainer.predict (dataset order)",
                f"{padding_fraction(lengths, batch_size):.1%}",
                t_hf,
                "1.00x",
                "",
            ],
            [
                "sumexp generate_summaries (sorted by length)",
                f"{padding_fraction(sorted(lengths), batch_size):.1%}",
                t_ours,
                f"{speedup:.2f}x",
                f">= {TARGET}x",
            ],
        ],
    )
    distinct = len(set(ours))
    print(f"summaries: {distinct} distinct among {len(ours)}")
    verdict("sumexp / HF predict, generation speed-up", speedup, TARGET, at_most=False)
    if ours != ours_hf:
        first = next(i for i, (a, b) in enumerate(zip(ours, ours_hf)) if a != b)
        return fail(f"summaries differ, first at row {first}: sumexp {ours[first]!r} vs HF {ours_hf[first]!r}")
    print("summaries: identical")
    if distinct < 2:
        return fail("every dialogue got the same summary: the identity check would not catch a reordering")
    return 0


if __name__ == "__main__":
    sys.exit(main())
