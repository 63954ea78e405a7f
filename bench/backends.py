"""Train sumexp's backends (full, lora, qlora, unsloth) for N steps on models built from config with
random weights, and compare peak memory, step time, tokens/s and MFU, with ratios to full.

Run: python bench/backends.py [--device cuda|cpu] [--tiny] [--steps N] [--batch-size B] [--seq-len L]
     [--models kobart,qwen] [--backends full,lora,qlora,unsloth] [--gradient-checkpointing]

Shapes: KoBART (BART, 6+6 layers, d_model 768, vocabulary 30000) and Qwen2.5-0.5B (24 layers, hidden
896, GQA 14/2 heads, vocabulary 151936, tied head). --tiny shrinks both so the CPU path runs in a
minute. Each backend trains in its own process (peak memory and unsloth's patching stay its own),
through sumexp's own backend classes with backend.fallback=false: a pairing the matrix cannot
serve shows as unsupported, never as another backend's numbers. Batches are random token ids,
every token real (no padding); a seq2seq step counts source and target tokens, as sumexp does.
MFU is 6 x parameters x tokens/s over the GPU's dense bf16 peak; adapters skip most weight
gradients, so theirs overstates the work done.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script, the repo root is not on sys.path

SHAPES = {  # name: (sumexp model option, transformers model type, config)
    "kobart": (
        "kobart",
        "bart",
        dict(
            vocab_size=30000,
            d_model=768,
            encoder_layers=6,
            decoder_layers=6,
            encoder_attention_heads=16,
            decoder_attention_heads=16,
            encoder_ffn_dim=3072,
            decoder_ffn_dim=3072,
            max_position_embeddings=1026,
        ),
    ),
    "qwen": (
        "qwen2_5_0_5b",
        "qwen2",
        dict(
            vocab_size=151936,
            hidden_size=896,
            intermediate_size=4864,
            num_hidden_layers=24,
            num_attention_heads=14,
            num_key_value_heads=2,
            max_position_embeddings=32768,
            rope_theta=1e6,
            tie_word_embeddings=True,
        ),
    ),
}
TINY = {
    "kobart": dict(
        vocab_size=2000,
        d_model=128,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=256,
        decoder_ffn_dim=256,
        max_position_embeddings=256,
    ),
    "qwen": dict(
        vocab_size=2000,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
    ),
}
SPECIAL_TOKENS = {"bos_token": "<s>", "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}


def main() -> None:
    args = parse_args()
    if args.worker:
        print("BENCH " + json.dumps(measure(args)), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="sumexp-bench-") as tmp:
        results = []
        for model in args.models:
            folder = save_random_model(model, args.tiny, Path(tmp) / model)
            results += [run_worker(args, model, backend, folder, Path(tmp)) for backend in args.backends]
    print_table(args, results)


def save_random_model(name: str, tiny: bool, folder: Path) -> Path:
    """A checkpoint folder with random weights and a tokenizer trained on the shipped sample."""
    import torch
    from transformers import AutoConfig

    from sumexp.data.sample import make_sample_splits
    from sumexp.models.loading import model_class_for
    from sumexp.models.tiny import train_tokenizer

    _, model_type, shape = SHAPES[name]
    train = make_sample_splits()["train"]
    tokenizer = train_tokenizer(list(train["dialogue"]) + list(train["summary"]), 1000, SPECIAL_TOKENS)
    ids = {key: tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS[key]) for key in ("bos_token", "eos_token", "pad_token")}
    config = AutoConfig.for_model(
        model_type, **(TINY[name] if tiny else shape), **{f"{k}_id": v for k, v in ids.items()}
    )
    torch.manual_seed(0)
    model_class_for(config).from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)  # its ids all fall inside the model's vocabulary: no resizing
    return folder


def run_worker(args, model: str, backend: str, folder: Path, tmp: Path) -> dict:
    """One backend in a fresh process; the result, or why it had none."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--model",
        model,
        "--backend",
        backend,
        "--folder",
        str(folder),
        "--scratch",
        str(tmp / f"{model}-{backend}"),
        *forwarded(args),
    ]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"model": model, "backend": backend, "status": f"timed out after {args.timeout} s"}
    line = next((text for text in reversed(out.stdout.splitlines()) if text.startswith("BENCH ")), None)
    if line is None:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"model": model, "backend": backend, "status": f"failed: {last[:160]}"}
    return {"model": model, "backend": backend, **json.loads(line[len("BENCH ") :])}


def forwarded(args) -> list[str]:
    flags = [
        "--device",
        args.device,
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--batch-size",
        str(args.batch_size),
        "--seq-len",
        str(args.seq_len),
        "--target-len",
        str(args.target_len),
    ]
    return flags + (["--gradient-checkpointing"] if args.gradient_checkpointing else [])


def measure(args) -> dict:
    """Build through sumexp's backend (the matrix first: unsloth must precede transformers), then time steps."""
    from sumexp.backends.base import BackendUnsupported
    from sumexp.backends.matrix import select_backend

    cfg = compose(args)
    try:
        backend = select_backend(cfg)
    except BackendUnsupported as err:
        return {"status": "unsupported", "reason": str(err)}

    from sumexp.models.loading import load_model_config, load_tokenizer
    from sumexp.results import resources

    resources.reset_peak_memory()
    tokenizer = load_tokenizer(cfg.model, [])
    model_config = load_model_config(cfg.model, tokenizer)
    model = backend.build(cfg, tokenizer, model_config, Path(args.scratch) / "model").model
    if args.device == "cuda" and next(model.parameters()).device.type != "cuda":
        model.to("cuda")  # 4-bit and unsloth models are placed on the GPU as they load
    total, trainable = resources.parameter_counts(model)
    batch, tokens = synthetic_batch(args, model_config.is_encoder_decoder, model_config.vocab_size)
    step_s = time_steps(model, batch, args)
    peak_mb, peak_kind = resources.peak_memory_mb()
    return {
        "status": "ok",
        "peak_mb": peak_mb,
        "peak_kind": peak_kind,
        "step_s": step_s,
        "tokens_per_s": tokens / step_s,
        "mfu": resources.model_flops_utilization(total, tokens / step_s),
        "params_total": total,
        "params_trainable": trainable,
        "device": resources.device_name(),
    }


def compose(args):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from sumexp.package_data import CONF_DIR
    from sumexp.schema import register_configs

    register_configs()
    overrides = [
        f"model={SHAPES[args.model][0]}",
        f"model.checkpoint={args.folder}",
        f"backend={args.backend}",
        "backend.fallback=false",
        f"optim.precision={'bf16' if args.device == 'cuda' else 'fp32'}",
        f"optim.gradient_checkpointing={str(args.gradient_checkpointing).lower()}",
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def synthetic_batch(args, seq2seq: bool, vocab_size: int):
    """Random token ids (above the special ids); returns the batch and its tokens per step."""
    import torch

    shape = (args.batch_size, args.seq_len)
    ids = torch.randint(4, vocab_size, shape, device=args.device)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if seq2seq:
        batch["labels"] = torch.randint(4, vocab_size, (args.batch_size, args.target_len), device=args.device)
        return batch, args.batch_size * (args.seq_len + args.target_len)
    batch["labels"] = ids.clone()
    return batch, args.batch_size * args.seq_len


def time_steps(model, batch, args) -> float:
    """Mean seconds per optimizer step (forward, backward, AdamW), after warm-up steps."""
    import torch

    cuda = args.device == "cuda"
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5, fused=cuda)
    model.train()
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            torch.cuda.synchronize() if cuda else None
            start = time.perf_counter()
        with torch.autocast(args.device, dtype=torch.bfloat16, enabled=cuda):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize() if cuda else None
    return (time.perf_counter() - start) / args.steps


def print_table(args, results: list[dict]) -> None:
    import torch

    gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    print(
        f"sumexp backends | {time.strftime('%Y-%m-%d')} | {gpu} | torch {torch.__version__} | "
        f"{'tiny shapes' if args.tiny else 'full shapes'} | batch {args.batch_size} x seq {args.seq_len}"
        f" (+{args.target_len} target for seq2seq) | {args.steps} steps after {args.warmup} warm-up"
    )
    header = f"{'model':8} {'backend':8} {'peak MB':>9} {'mem/full':>9} {'step s':>8} {'tokens/s':>10} {'speed/full':>10} {'MFU':>6} {'trainable':>10}"
    print(header + "\n" + "-" * len(header))
    for row in results:
        full = next(
            (r for r in results if r["model"] == row["model"] and r["backend"] == "full" and r["status"] == "ok"), None
        )
        if row["status"] != "ok":
            print(f"{row['model']:8} {row['backend']:8} {row['status']}: {row.get('reason', '')}"[:240])
            continue
        mem = f"{100 * row['peak_mb'] / full['peak_mb']:.0f}%" if full else "n/a"
        speed = f"{row['tokens_per_s'] / full['tokens_per_s']:.2f}x" if full else "n/a"
        mfu = f"{100 * row['mfu']:.1f}%" if row["mfu"] is not None else "n/a"
        share = f"{100 * row['params_trainable'] / row['params_total']:.2f}%"
        print(
            f"{row['model']:8} {row['backend']:8} {row['peak_mb']:9.0f} {mem:>9} {row['step_s']:8.3f} "
            f"{row['tokens_per_s']:10.0f} {speed:>10} {mfu:>6} {share:>10}"
        )
    kinds = {r["peak_kind"] for r in results if r["status"] == "ok"}
    print(f"peak memory: {', '.join(sorted(kinds))} (process_peak_rss on a CPU includes Python and torch themselves)")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default=None, help="default: cuda when present")
    parser.add_argument("--tiny", action="store_true", help="small shapes, for a CPU check of the whole path")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 20; --tiny 2)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 3; --tiny 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 8; --tiny 2")
    parser.add_argument("--seq-len", type=int, default=None, help="source or prompt tokens (default 512; --tiny 32)")
    parser.add_argument("--target-len", type=int, default=None, help="seq2seq target tokens (default 128; --tiny 16)")
    parser.add_argument("--models", type=lambda s: s.split(","), default=list(SHAPES))
    parser.add_argument("--backends", type=lambda s: s.split(","), default=["full", "lora", "qlora", "unsloth"])
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per backend process")
    for internal in ("--model", "--backend", "--folder", "--scratch"):
        parser.add_argument(internal, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    defaults = dict(steps=(2, 20), warmup=(1, 3), batch_size=(2, 8), seq_len=(32, 512), target_len=(16, 128))
    for key, (tiny, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, tiny if args.tiny else full)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    return args


if __name__ == "__main__":
    main()
