"""Build every backend of one model side by side, then time their training steps in turns: full, lora, qlora,
full, lora, qlora, ... on the same batches. Load that comes and goes on a shared machine then falls on every
backend alike, and the ratio of their step times keeps its meaning where the step times of separate runs do not.

Where a backend cannot be built (or step) beside those already built for memory, `NotBeside` says which and why,
with what was built released; sumexp/speed/processes.py then times one process per backend instead, each of which
builds and times its one backend here (`time_alone`)."""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sumexp.errors import UserError, first_line


@dataclass
class Timed:
    step_seconds: dict[str, list[float]]  # per backend that ran: its median step time in each timed round
    effective: dict[str, str]  # requested backend -> the one that ran (a fallback is named, never hidden)
    notes: dict[str, str]  # requested backend -> why another one ran
    tokens_per_step: float  # label tokens that enter the loss, per step (the same batches for every backend)
    batches: str  # a hash of the batches every backend was timed on
    model_state_bytes: dict[str, int]
    base: str  # what every backend's weights started from (metrics.json's base_model)


class NotBeside(Exception):
    """`backend` ran out of memory beside `beside` (the backends already built in this process)."""

    def __init__(self, backend: str, beside: list[str], reason: str):
        super().__init__(f"backend={backend} does not fit beside {', '.join(beside)} in one process: {reason}")
        self.backend, self.beside, self.reason = backend, beside, reason


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA out of memory, or a CPU allocation that failed (MemoryError, or torch's allocator's RuntimeError)."""
    if isinstance(err, MemoryError):
        return True
    import torch

    if isinstance(err, torch.cuda.OutOfMemoryError):
        return True
    text = str(err)
    return "out of memory" in text.lower() or "DefaultCPUAllocator: can't allocate" in text


def time_backends(configs: dict[str, object], rounds: int, steps: int, warmup: int) -> Timed:
    """`configs`: requested backend -> its run config (the same model, data and seed). Raises NotBeside where a
    backend runs out of memory beside the others, while it is built or in its first step."""
    backends = _select(configs)
    if "unsloth" in {b.name for b in backends.values()} and len(backends) > 1:
        raise UserError(
            "backend=unsloth patches transformers for the whole process, so it cannot be timed beside other "
            "backends; time one process per backend (--processes), or it in a command of its own "
            "(backend=unsloth,qlora runs qlora under its patches too)"
        )
    trainers, built, base = _build(configs, backends)
    batches = _fixed_batches(next(iter(trainers.values())), steps)
    tokens = _tokens_per_step(next(iter(trainers.values())), batches)
    seconds: dict[str, list[float]] = {name: [] for name in trainers}
    for round_number in range(warmup + rounds):
        for name in list(trainers):
            failed = None
            try:
                times = [_one_step(trainers[name], batch) for batch in batches]
            except Exception as err:
                if round_number > 0 or not is_out_of_memory(err):
                    raise
                failed = f"out of memory in its first step ({first_line(err)})"
            if failed:  # raised here, not in the handler, so that nothing keeps the models alive but this frame
                others = [n for n in trainers if n != name]
                trainers.clear(), built.clear()
                raise NotBeside(name, others, failed)
            if round_number >= warmup:
                seconds[name].append(statistics.median(times))
    return Timed(
        step_seconds=seconds,
        effective={name: b.effective_backend for name, b in built.items()},
        notes={name: b.note for name, b in built.items() if b.note},
        tokens_per_step=tokens,
        batches=_digest(batches),
        model_state_bytes={name: _model_state(trainer) for name, trainer in trainers.items()},
        base=base,
    )


def time_alone(name: str, cfg, steps: int, warmup: int) -> dict:
    """One backend built and timed alone, as one of the processes that alternate (sumexp/speed/processes.py):
    `warmup` untimed passes over the batches, then one timed pass; each step's seconds."""
    from transformers import set_seed

    from sumexp.results.resources import device_name

    trainers, built, base = _build({name: cfg}, _select({name: cfg}))
    trainer = trainers[name]
    set_seed(cfg.seed)  # the same batches in every process, whatever building the backend drew
    batches = _fixed_batches(trainer, steps)
    for _ in range(warmup):
        for batch in batches:
            _one_step(trainer, batch)
    return {
        "backend": name,
        "effective": built[name].effective_backend,
        "note": built[name].note,
        "step_seconds": [_one_step(trainer, batch) for batch in batches],
        "tokens_per_step": _tokens_per_step(trainer, batches),
        "batches": _digest(batches),
        "model_state_bytes": _model_state(trainer),
        "device": device_name(),
        "base": base,
    }


def _select(configs: dict[str, object]) -> dict:
    from sumexp.backends.matrix import select_backend
    from sumexp.checks import check_config

    for cfg in configs.values():
        check_config(cfg)
    backends = {name: select_backend(cfg) for name, cfg in configs.items()}  # before transformers: unsloth first
    from sumexp.run.console import quiet_libraries

    quiet_libraries(next(iter(configs.values())).verbose)
    return backends


def _tokens_per_step(trainer, batches) -> float:
    from sumexp.training.trainer import count_tokens

    is_encoder_decoder = trainer.model.config.is_encoder_decoder
    return statistics.fmean(float(count_tokens(b, is_encoder_decoder)[1]) for b in batches)


def _build(configs, backends):
    """A Trainer (model, optimizer, collator) per backend, as a run builds it, and what their base is."""
    from transformers import set_seed

    from sumexp.data.splits import load_splits
    from sumexp.task import encode, prepare_model_inputs

    first = next(iter(configs.values()))
    splits = load_splits(first.data, first.seed)
    set_seed(first.seed)
    scratch = Path(tempfile.mkdtemp(prefix="sumexp-speed-"))
    inputs = prepare_model_inputs(first, splits, scratch)  # as a run makes them: a pretrained base included
    tokenizer, model_config, encoded = inputs.tokenizer, inputs.model_config, encode(first, inputs, splits)
    trainers, built = {}, {}
    for name, cfg in configs.items():
        set_seed(cfg.seed)
        failed = None
        try:
            built[name], trainers[name] = _build_one(
                cfg, backends[name], tokenizer, model_config, encoded, scratch / name, inputs.base.folder
            )
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            if not trainers:
                raise UserError(f"backend={name} does not fit on this device alone: {first_line(err)}") from None
            failed = f"out of memory while building it ({first_line(err)})"
        if failed:  # raised here, not in the handler, so that nothing keeps the models alive but this frame
            beside = list(trainers)
            trainers.clear(), built.clear()
            raise NotBeside(name, beside, failed)
    return trainers, built, inputs.base.description


def _build_one(cfg, backend, tokenizer, model_config, encoded, scratch: Path, base: str | None):
    """The backend's model and its Trainer, with the optimizer made as a run makes it."""
    from sumexp.task import precision_and_rate
    from sumexp.training.trainer import build_trainer, training_arguments

    built = backend.build(cfg, tokenizer, model_config, scratch, base)
    precision, _note, learning_rate = precision_and_rate(cfg)
    args = training_arguments(cfg, str(scratch / "trainer"), precision, learning_rate)
    trainer = build_trainer(cfg, built.model, tokenizer, encoded.train, encoded.dev, None, args)
    trainer.create_optimizer_and_scheduler(num_training_steps=10**6)
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(), which the timing does not call
    return built, trainer


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
