"""The interface every backend implements."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BuiltModel:
    model: object  # a transformers PreTrainedModel, possibly wrapped (peft)
    effective_backend: str  # what actually ran; differs from the requested one only with a recorded note
    note: str | None = None  # why the effective backend differs, written to metrics.json


class Backend:
    """Loads the model for training. Subclasses override `build`."""

    def __init__(self, name: str):
        self.name = name

    def build(self, model_cfg, tokenizer, model_config) -> BuiltModel:
        raise NotImplementedError
