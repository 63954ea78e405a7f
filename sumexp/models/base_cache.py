"""The base a run fine-tunes: a checkpoint, random weights, or a scratch model pretrained here (pretrain.py),
kept in cache_dir by what makes it, so every run of a sweep starts from one base as it would from a hub
checkpoint. An entry is a save_pretrained folder (safetensors, tokenizer) and base.json; it is built under
a lock, beside its name and renamed, so a parallel job waits for it and a kill never leaves half of one."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

META = "base.json"


@dataclass
class Base:
    folder: str | None  # the weights the backends load, like a checkpoint; None: model.checkpoint, or random weights
    description: str  # metrics.json base_model
    cache: str | None = None  # metrics.json base_model_cache: hit (an earlier run pretrained it) | miss | None


def prepare_base(cfg, dialogues: list[str], tokenizer, model_config, run_dir: Path) -> Base:
    """The run's base: pretrained on the training `dialogues` (found in the cache or made now) where
    model.scratch.pretrain.steps > 0."""
    if cfg.model.scratch is None:
        return Base(None, f"checkpoint {cfg.model.checkpoint}")
    settings = cfg.model.scratch.pretrain
    if settings.steps == 0:
        return Base(None, "random weights")
    key = cache_key(cfg.model, tokenizer, dialogues)
    root = Path(cfg.cache_dir).expanduser() / "bases" if cfg.cache_dir else Path(run_dir) / ".bases"
    folder = root / key
    with _locked(root / f".{key}.lock"):
        meta, cache = _valid_entry(folder, key), "hit"
        if meta is None:
            _check_can_pretrain(settings, model_config)
            meta, cache = _build(cfg.model, dialogues, tokenizer, model_config, folder, key), "miss"
        else:
            log.info("pretrained base from the cache: %s", folder)
    return Base(str(folder), describe(meta), cache)


def describe(meta: dict) -> str:
    return (
        f"pretrained here: {meta['steps']} LM steps on {meta['dialogues']:,} training dialogues "
        f"({meta['tokens']:,} tokens, loss {meta['loss_first']:.2f} -> {meta['loss_last']:.2f}; "
        f"cache key {meta['key'][:12]})"
    )


def cache_key(model_cfg, tokenizer, dialogues: list[str]) -> str:
    """Everything that changes the base: architecture and pretraining settings (model.scratch), the tokenizer's
    vocabulary, the dialogues and the pretraining code. Not the tokenizer's pipeline as serialized: training
    switches its padding on, which would give the same base another key."""
    from omegaconf import OmegaConf

    from sumexp.features_cache import content_key

    return content_key(
        json.dumps(OmegaConf.to_container(model_cfg.scratch), sort_keys=True),
        json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False),
        json.dumps([tokenizer.special_tokens_map, len(tokenizer)], sort_keys=True, default=str),
        Path(__file__).with_name("pretrain.py").read_text(encoding="utf-8"),
        json.dumps(dialogues, ensure_ascii=False),
    )


def _build(model_cfg, dialogues, tokenizer, model_config, folder: Path, key: str) -> dict:
    """Pretrain from random weights (seeded by pretrain.seed) and put the folder in place whole."""
    import torch

    from sumexp.models.loading import load_model
    from sumexp.models.pretrain import lm_examples, pretrain
    from sumexp.results.files import follow_umask

    settings = model_cfg.scratch.pretrain
    for stale in folder.parent.glob(f".{key}.*.tmp"):  # a killed builder's; the lock says none is running
        shutil.rmtree(stale, ignore_errors=True)
    log.info(
        "pretraining the base of %s: %d steps on %d training dialogues", model_cfg.name, settings.steps, len(dialogues)
    )
    torch.manual_seed(settings.seed)
    model = load_model(model_cfg, tokenizer, model_config)
    examples = lm_examples(tokenizer, dialogues, model_config.is_encoder_decoder, settings)
    stats = pretrain(model, tokenizer, examples, settings)
    staging = folder.with_name(f".{key}.{os.getpid()}.tmp")
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    meta = {
        "key": key,
        "steps": settings.steps,
        "dialogues": len(dialogues),
        **stats,
        "weights": _weights_hash(staging),
    }
    (staging / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    follow_umask(staging)
    if folder.exists():  # an entry _valid_entry refused: out of the way first, a folder cannot be renamed over one
        shutil.rmtree(folder)
    os.replace(staging, folder)
    return meta


def _check_can_pretrain(settings, model_config) -> None:
    """Refuse what would fail deep inside training: blocks past the position limit, pretraining under torchrun
    (its Trainer would wait for ranks that wait on the lock)."""
    from sumexp.errors import UserError
    from sumexp.run.distributed import world_size

    limit = getattr(model_config, "max_position_embeddings", None)  # None: relative positions (T5)
    if limit is not None and settings.block_size > limit:
        raise UserError(
            f"model.scratch.pretrain.block_size={settings.block_size}: above the model's {limit} positions; "
            f"use at most {limit}"
        )
    if world_size() > 1:
        raise UserError(
            "model.scratch.pretrain.steps > 0 under torchrun: pretrain the base in one process first (the same command "
            "without torchrun, e.g. with optim.max_steps=1); every rank then loads it from cache_dir"
        )


def _valid_entry(folder: Path, key: str) -> dict | None:
    """base.json of a whole entry for `key`; None (with a warning) for a damaged or altered one, rebuilt then."""
    if not folder.exists():
        return None
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        problem = (
            "its base.json is for another key"
            if meta.get("key") != key
            else "its weights are not the ones it was saved with"
            if meta.get("weights") != _weights_hash(folder)
            else None
        )
    except (OSError, ValueError, AttributeError) as err:
        problem = f"{type(err).__name__}: {err}"
    if problem:
        log.warning("ignoring the pretrained base at %s (%s); pretraining it again", folder, problem)
        return None
    return meta


def _weights_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise OSError(f"no *.safetensors in {folder}")
    for path in files:
        digest.update(path.name.encode("utf-8"))
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive flock on `path` for the block: parallel jobs wait for the one building the entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
