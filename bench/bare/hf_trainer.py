"""A bare fine-tuning script on the HF Trainer: the baseline of bench/bench_overhead.py.

Run: python bench/bare/hf_trainer.py --model DIR --train CSV --out JSON [--max-steps N] [--batch-size B] ...

What a user would write without sumexp: load the checkpoint and its tokenizer, tokenize the CSV's
dialogues and summaries, train with `Trainer` and `DataCollatorForSeq2Seq`, no evaluation. It
encodes as sumexp does for an encoder-decoder (source cut to --max-source-length by the
tokenizer; labels cut to --max-target-length and ending in EOS, which this tokenizer does not add
by itself), so the two runs see the same tensors. Writes the Trainer's log history and train
runtime to --out.
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    Trainer,
    TrainingArguments,
)


def encode(tokenizer, frame: pd.DataFrame, max_source: int, max_target: int) -> list[dict]:
    """input_ids, attention_mask and labels (summary + EOS) per row."""
    sources = tokenizer(list(frame["dialogue"]), truncation=True, max_length=max_source)["input_ids"]
    targets = tokenizer(list(frame["summary"]), add_special_tokens=True)["input_ids"]
    eos = tokenizer.eos_token_id
    labels = [(t[:-1] if t and t[-1] == eos else t)[: max_target - 1] + [eos] for t in targets]
    return [{"input_ids": s, "attention_mask": [1] * len(s), "labels": lab} for s, lab in zip(sources, labels)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--output-dir", default="bare_trainer_output")
    p.add_argument("--max-steps", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--logging-steps", type=int, default=5)
    p.add_argument("--max-source-length", type=int, default=256)
    p.add_argument("--max-target-length", type=int, default=64)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--sampling", default="group_by_length", help="train_sampling_strategy: random | group_by_length")
    args = p.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSeq2SeqLM.from_pretrained(args.model)
    train_set = encode(tokenizer, pd.read_csv(args.train), args.max_source_length, args.max_target_length)
    training_args = TrainingArguments(
        output_dir=args.output_dir,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup,
        lr_scheduler_type="linear",
        max_grad_norm=1.0,
        logging_steps=args.logging_steps,
        seed=args.seed,
        dataloader_pin_memory=False,
        train_sampling_strategy=args.sampling,
    )
    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, padding=True)
    trainer = Trainer(
        model=model, args=training_args, train_dataset=train_set, data_collator=collator, processing_class=tokenizer
    )
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "train_runtime_s": result.metrics["train_runtime"],
                "train_call_s": seconds,
                "log_history": trainer.state.log_history,
            },
            handle,
        )


if __name__ == "__main__":
    main()
