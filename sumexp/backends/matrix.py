"""Which backend serves which model family on which device: the one table, checked before any
weights load, and the choice it makes (the requested backend, or a recorded fallback)."""

from __future__ import annotations

import logging

from sumexp.backends import probes
from sumexp.backends.base import Backend, BackendUnsupported
from sumexp.errors import UserError

log = logging.getLogger(__name__)
SERVES = None
UNSLOTH_SEQ2SEQ_ON_CPU = (
    "unsloth trains encoder-decoders (T5, BART) through FastModel on a GPU only; on a CPU it serves causal models"
)

# backend -> (family, device) -> SERVES, or why it cannot. Where it serves, REQUIREMENTS still run.
MATRIX: dict[str, dict[tuple[str, str], str | None]] = {
    "full": {
        ("causal", "cpu"): SERVES,
        ("seq2seq", "cpu"): SERVES,
        ("causal", "cuda"): SERVES,
        ("seq2seq", "cuda"): SERVES,
    },
    "lora": {
        ("causal", "cpu"): SERVES,
        ("seq2seq", "cpu"): SERVES,
        ("causal", "cuda"): SERVES,
        ("seq2seq", "cuda"): SERVES,
    },
    "qlora": {
        ("causal", "cpu"): SERVES,
        ("seq2seq", "cpu"): SERVES,
        ("causal", "cuda"): SERVES,
        ("seq2seq", "cuda"): SERVES,
    },
    "unsloth": {
        # unsloth's CPU loader: stock transformers + bitsandbytes + peft, no unsloth kernel or loss (its chunked
        # cross-entropy needs TRL's SFTTrainer); it serves, and records the run as qlora (backends/unsloth.py)
        ("causal", "cpu"): SERVES,
        ("seq2seq", "cpu"): UNSLOTH_SEQ2SEQ_ON_CPU,
        ("causal", "cuda"): SERVES,  # FastLanguageModel
        ("seq2seq", "cuda"): SERVES,  # FastModel
    },
}
# What must also work on this machine, checked only where the table says the backend serves.
REQUIREMENTS = {
    "qlora": lambda device: probes.bitsandbytes_4bit(device),
    "unsloth": lambda device: probes.unsloth_importable(),
}
FALLBACK_ORDER = ("unsloth", "qlora", "lora")  # each falls back to the ones after it; full has no fallback
BACKEND_CLASSES = {
    "full": "sumexp.backends.full.FullFineTuning",
    "lora": "sumexp.backends.lora.LoRA",
    "qlora": "sumexp.backends.qlora.QLoRA",
    "unsloth": "sumexp.backends.unsloth.Unsloth",
}


def select_backend(cfg) -> Backend:
    """The backend that will train: the requested one, or (backend.fallback=true) the first in
    FALLBACK_ORDER after it that can serve, with the reason in its `note`. Raises BackendUnsupported
    when none can. A backend that needs unsloth has it imported on return; no weights are loaded."""
    requested = cfg.backend.name
    if requested not in MATRIX:
        raise UserError(f"backend.name={requested}: not in the backend matrix; use one of {', '.join(MATRIX)}")
    device = probes.device()
    family = _LazyFamily(cfg.model)
    refusals = []
    for name in fallback_chain(requested) if cfg.backend.fallback else (requested,):
        why = why_not(name, family, device)
        if why is SERVES:
            backend = backend_for(cfg.backend, name)
            backend.family = family.known
            if refusals:
                backend.note = (
                    f"{_pairing(requested, cfg, family, device)}: {'; '.join(refusals)}; trained with {name} instead"
                )
                log.warning("%s", backend.note)  # the terminal's one line; metrics.json records the note too
            backend.prepare_process()
            return backend
        refusals.append(why if name == requested else f"{name}: {why}")
    raise BackendUnsupported(
        f"{_pairing(requested, cfg, family, device)}: {'; '.join(refusals)}; choose another backend "
        f"(backend=lora serves every model), or backend.fallback=true to fall back to the first that can"
    )


def fallback_chain(requested: str) -> tuple[str, ...]:
    """unsloth -> (unsloth, qlora, lora); qlora -> (qlora, lora); lora and full -> themselves."""
    return FALLBACK_ORDER[FALLBACK_ORDER.index(requested) :] if requested in FALLBACK_ORDER else (requested,)


def why_not(name: str, family, device: str) -> str | None:
    """SERVES (None) or the reason backend `name` cannot serve this family on this device."""
    table = MATRIX[name]
    families = {fam for fam, dev in table if dev == device}
    if all(table[(fam, device)] is SERVES for fam in families):
        reason = SERVES  # the family does not matter: do not read it (for a hub model, that reads config.json)
    else:
        reason = table[(str(family), device)]
    if reason is SERVES and name in REQUIREMENTS:
        reason = REQUIREMENTS[name](device)
    return reason


def backend_for(backend_cfg, name: str) -> Backend:
    """The configured backend, or backend `name` built from the same LoRA and quantization values."""
    from hydra.utils import instantiate

    if name == backend_cfg.name:
        return instantiate(backend_cfg)
    settings = {"lora": backend_cfg.lora, "quantization": backend_cfg.quantization if name != "lora" else None}
    return instantiate({"_target_": BACKEND_CLASSES[name], "name": name, "fallback": False, **settings})


def _pairing(requested: str, cfg, family, device: str) -> str:
    known = f" ({family.known})" if family.known else ""
    return f"backend={requested} cannot serve model={cfg.model.name}{known} on {device}"


class _LazyFamily:
    """The model family, read only when a table entry depends on it."""

    def __init__(self, model_cfg):
        self.model_cfg = model_cfg
        self.known: str | None = None

    def __str__(self) -> str:
        if self.known is None:
            self.known = probes.model_family(self.model_cfg)
        return self.known
