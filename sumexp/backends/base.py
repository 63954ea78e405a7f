"""The interface every backend implements, and the error a backend that cannot serve raises."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from sumexp.errors import UserError


class BackendUnsupported(UserError):
    """The requested backend cannot serve this model on this device and backend.fallback=false."""

    stage = "backend"  # metrics.json: status unsupported, stage backend


@dataclass
class BuiltModel:
    model: object  # a transformers PreTrainedModel, possibly wrapped (peft)
    effective_backend: str  # what actually ran; differs from the requested one only with a recorded note
    note: str | None = None  # why the effective backend differs, written to metrics.json


class Backend:
    """Loads the model for training (`build`) and a finished run's model for prediction (`load_trained`).

    Built by sumexp/backends/matrix.py from the values of a conf/backend/*.yaml, with what the selection
    found: `family` (the model family the matrix read, when it needed to) and `note` (why this backend
    stands in for the requested one).
    """

    def __init__(
        self,
        name: str,
        fallback: bool = True,
        lora=None,
        quantization=None,
        lr_scale: float = 1.0,
        family: str | None = None,
        note: str | None = None,
    ):
        if not lr_scale > 0:  # also NaN
            raise UserError(
                f"backend.lr_scale={lr_scale}: must be above 0 (1: the model's own learning rate), e.g. backend.lr_scale=10"
            )
        self.name = name
        self.fallback = fallback
        self.lora = lora
        self.quantization = quantization
        self.family = family
        self.note = note

    def prepare_process(self) -> None:
        """Refuse a process that unsloth has already patched: this job would train on patched code."""
        if "unsloth" in sys.modules:
            raise UserError(
                f"backend={self.name}: this process already imported unsloth, which patches transformers for the "
                f"whole process; run each backend in its own process (python -m sumexp ..., or a sweep's launcher)"
            )

    def build(self, cfg, tokenizer, model_config, model_dir: Path, base: str | None = None) -> BuiltModel:
        """The model ready to train; anything a later prediction needs besides the trained weights goes in `model_dir`.

        `base`: a folder the base weights load from as from a checkpoint (a scratch model pretrained here,
        sumexp/models/base_cache.py); None: model.checkpoint, or random weights for a scratch model.
        """
        raise NotImplementedError

    def load_trained(self, cfg, tokenizer, model_dir: Path):
        """The model a finished run saved in `model_dir`, as it generated the run's predictions."""
        raise NotImplementedError

    def built(self, model) -> BuiltModel:
        return BuiltModel(model=model, effective_backend=self.name, note=self.note)
