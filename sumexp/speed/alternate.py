"""Build every backend of one model side by side, then time their training steps in turns: full, lora, qlora,
full, lora, qlora, ... on the same batches. Load that comes and goes on a shared machine then falls on every
backend alike, and the ratio of their step times keeps its meaning where the step times of separate runs do not."""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sumexp.errors import UserError


@dataclass
class Timed:
    step_seconds: dict[str, list[float]]  # per backend that ran: its median step time in each timed round
    effective: dict[str, str]  # requested backend -> the one that ran (a fallback is named, never hidden)
    notes: dict[str, str]  # requested backend -> why another one ran
    tokens_per_step: float  # label tokens that enter the loss, per step (the same batches for every backend)
    batches: str  # a hash of the batches every backend was timed on
    model_state_bytes: dict[str, int]


def time_backends(configs: dict[str, object], rounds: int, steps: int, warmup: int) -> Timed:
    """`configs`: requested backend -> its run config (the same model, data and seed)."""
    from sumexp.backends.matrix import select_backend
    from sumexp.checks import check_config

    for cfg in configs.values():
        check_config(cfg)
    backends = {name: select_backend(cfg) for name, cfg in configs.items()}  # before transformers: unsloth first
    if "unsloth" in {b.name for b in backends.values()} and len(backends) > 1:
        raise UserError(
            "backend=unsloth patches transformers for the whole process, so it cannot be timed beside other "
            "backends; time it in a command of its own (backend=unsloth,qlora runs qlora under its patches too)"
        )
    from sumexp.run.console import quiet_libraries

    first = next(iter(configs.values()))
    quiet_libraries(first.verbose)
    trainers, built = _build(configs, backends)
    batches = _fixed_batches(next(iter(trainers.values())), steps)
    from sumexp.training.trainer import count_tokens

    is_encoder_decoder = next(iter(trainers.values())).model.config.is_encoder_decoder
    tokens = statistics.fmean(float(count_tokens(b, is_encoder_decoder)[1]) for b in batches)
    seconds: dict[str, list[float]] = {name: [] for name in trainers}
    for round_number in range(warmup + rounds):
        for name, trainer in trainers.items():
            times = [_one_step(trainer, batch) for batch in batches]
            if round_number >= warmup:
                seconds[name].append(statistics.median(times))
    return Timed(
        step_seconds=seconds,
        effective={name: b.effective_backend for name, b in built.items()},
        notes={name: b.note for name, b in built.items() if b.note},
        tokens_per_step=tokens,
        batches=_digest(batches),
        model_state_bytes={name: _model_state(trainer) for name, trainer in trainers.items()},
    )


def _build(configs, backends):
    """A Trainer (model, optimizer, collator) per backend, as a run builds it."""
    from transformers import set_seed

    from sumexp.data.splits import load_splits
    from sumexp.features import Encoder
    from sumexp.features_cache import encode_splits
    from sumexp.models.loading import load_model_config, load_tokenizer
    from sumexp.task import precision_and_rate, training_texts
    from sumexp.training.trainer import build_trainer, training_arguments

    first = next(iter(configs.values()))
    splits = load_splits(first.data, first.seed)
    set_seed(first.seed)
    tokenizer = load_tokenizer(first.model, training_texts(splits.train))
    tokenizer.padding_side = "right"
    model_config = load_model_config(first.model, tokenizer)
    encoder = Encoder.from_config(first.model, tokenizer, model_config.is_encoder_decoder)
    encoded = encode_splits(encoder, splits, first.cache_dir)
    scratch = Path(tempfile.mkdtemp(prefix="sumexp-speed-"))
    trainers, built = {}, {}
    for name, cfg in configs.items():
        set_seed(cfg.seed)
        try:
            built[name] = backends[name].build(cfg, tokenizer, model_config, scratch / name)
        except Exception as err:
            if "out of memory" in str(err).lower():
                raise UserError(
                    f"backend={name} cannot be built beside {', '.join(trainers)} on this device (out of memory); "
                    f"time fewer backends at once"
                ) from None
            raise
        precision, _note, learning_rate = precision_and_rate(cfg)
        args = training_arguments(cfg, str(scratch / name / "trainer"), precision, learning_rate)
        trainer = build_trainer(cfg, built[name].model, tokenizer, encoded.train, encoded.dev, None, args)
        trainer.create_optimizer_and_scheduler(num_training_steps=10**6)
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(), which the timing does not call
        trainers[name] = trainer
    return trainers, built


def _fixed_batches(trainer, steps: int) -> list[dict]:
    """The first `steps` batches of the run's own training dataloader, kept: every backend trains on these."""
    batches = []
    for batch in trainer.get_train_dataloader():
        batches.append(batch)
        if len(batches) == steps:
            return batches
    raise UserError(f"--steps {steps}: the training split gives only {len(batches)} batches; ask for fewer")


def _one_step(trainer, batch) -> float:
    """Seconds of one optimizer step as a run takes it: forward and backward (the Trainer's training_step),
    then the optimizer and the schedule."""
    import torch

    start = time.perf_counter()
    trainer.model.train()
    trainer.training_step(trainer.model, batch)
    trainer.optimizer.step()
    trainer.lr_scheduler.step()
    trainer.optimizer.zero_grad(set_to_none=True)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _digest(batches: list[dict]) -> str:
    digest = hashlib.sha256()
    for batch in batches:
        for key in sorted(batch):
            digest.update(key.encode())
            digest.update(batch[key].cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def _model_state(trainer) -> int:
    from sumexp.results import memory

    return int(memory.model_state_bytes(trainer.model, trainer.optimizer)["memory_model_state_bytes"])
