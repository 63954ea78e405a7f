"""Which backend serves which model family on which device: the one table, checked before any
weights load, and the choice it makes (the requested backend, or a recorded fallback)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sumexp.backends import probes
from sumexp.backends.base import Backend, BackendUnsupported
from sumexp.errors import UserError

log = logging.getLogger(__name__)
SERVES = None
UNSLOTH_SEQ2SEQ_ON_CPU = (
    "unsloth trains encoder-decoders (T5, BART) through FastModel on a GPU only; on a CPU it serves causal models"
)

EVERYWHERE = {(family, device): SERVES for family in ("causal", "seq2seq") for device in ("cpu", "cuda")}


@dataclass(frozen=True)
class Registered:
    """One backend: adding a backend is one entry here plus its conf/backend/NAME.yaml (values only)."""

    cls: str  # the Backend class, imported only when this backend is selected
    serves: dict[tuple[str, str], str | None]  # (family, device) -> SERVES, or why it cannot
    requires: Callable[[str], str | None] | None = None  # what the machine must also have, where it serves
    falls_back_to: str | None = None  # backend.fallback=true: the next backend to try when this one cannot serve
    adapters: bool = True  # trains adapters on a frozen base: needs backend.lora


BACKENDS: dict[str, Registered] = {
    "full": Registered("sumexp.backends.full.FullFineTuning", EVERYWHERE, adapters=False),
    "lora": Registered("sumexp.backends.lora.LoRA", EVERYWHERE),
    "qlora": Registered(
        "sumexp.backends.qlora.QLoRA",
        EVERYWHERE,
        requires=lambda device: probes.bitsandbytes_4bit(device),  # looked up at each call: probes are patchable
        falls_back_to="lora",
    ),
    "unsloth": Registered(
        "sumexp.backends.unsloth.Unsloth",
        {
            # unsloth's CPU loader: stock transformers + bitsandbytes + peft, no unsloth kernel or loss (its chunked
            # cross-entropy needs TRL's SFTTrainer); it serves, and records the run as qlora (backends/unsloth.py)
            ("causal", "cpu"): SERVES,
            ("seq2seq", "cpu"): UNSLOTH_SEQ2SEQ_ON_CPU,
            ("causal", "cuda"): SERVES,  # FastLanguageModel
            ("seq2seq", "cuda"): SERVES,  # FastModel
        },
        requires=lambda device: probes.unsloth_importable(),
        falls_back_to="qlora",
    ),
}


def unknown_backend(name: str) -> str | None:
    """Why `name` is not a backend (naming those that are), or None."""
    if name in BACKENDS:
        return None
    return f"backend.name={name}: not a registered backend; use one of {', '.join(BACKENDS)}"


def select_backend(cfg) -> Backend:
    """The backend that will train: the requested one, or (backend.fallback=true) the first on its
    fallback chain (each entry's `falls_back_to`) that can serve, with the reason in its `note`. Raises
    BackendUnsupported when none can. A backend that needs unsloth has it imported on return; no
    weights are loaded."""
    requested = cfg.backend.name
    unknown = unknown_backend(requested)
    if unknown:
        raise UserError(unknown)
    device = probes.device()
    family = _LazyFamily(cfg.model)
    refusals = []
    for name in fallback_chain(requested) if cfg.backend.fallback else (requested,):
        why = why_not(name, family, device)
        if why is SERVES:
            note = None
            if refusals:
                note = f"{_pairing(requested, cfg, family, device)}: {'; '.join(refusals)}; trained with {name} instead"
                log.warning("%s", note)  # the terminal's one line; metrics.json records the note too
            backend = backend_for(cfg.backend, name, family=family.known, note=note)
            backend.prepare_process()
            return backend
        refusals.append(why if name == requested else f"{name}: {why}")
    raise BackendUnsupported(
        f"{_pairing(requested, cfg, family, device)}: {'; '.join(refusals)}; choose another backend "
        f"(backend=lora serves every model), or backend.fallback=true to fall back to the first that can"
    )


def fallback_chain(requested: str) -> tuple[str, ...]:
    """unsloth -> (unsloth, qlora, lora); qlora -> (qlora, lora); lora and full -> themselves."""
    chain = [requested]
    while BACKENDS[chain[-1]].falls_back_to is not None:
        chain.append(BACKENDS[chain[-1]].falls_back_to)
    return tuple(chain)


def why_not(name: str, family, device: str) -> str | None:
    """SERVES (None) or the reason backend `name` cannot serve this family on this device."""
    entry = BACKENDS[name]
    families = {fam for fam, dev in entry.serves if dev == device}
    if all(entry.serves[(fam, device)] is SERVES for fam in families):
        reason = SERVES  # the family does not matter: do not read it (for a hub model, that reads config.json)
    else:
        reason = entry.serves[(str(family), device)]
    if reason is SERVES and entry.requires is not None:
        reason = entry.requires(device)
    return reason


def backend_for(backend_cfg, name: str, family: str | None = None, note: str | None = None) -> Backend:
    """Backend `name` built from the configured values: the configured backend itself, or one standing in
    for it with the same LoRA and quantization values (and no quantization for lora)."""
    from hydra.utils import get_class

    if name == backend_cfg.name:
        values = {key: backend_cfg[key] for key in backend_cfg if key != "_target_"}  # a run saved before the registry
    else:
        values = {"lora": backend_cfg.lora, "quantization": backend_cfg.quantization if name != "lora" else None}
        values.update(name=name, fallback=False)
    return get_class(BACKENDS[name].cls)(**values, family=family, note=note)


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
