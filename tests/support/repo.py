"""The repository the tests run in: its root, the shared data folder beside it, the tiny model options it ships."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
TINY_MODELS = ["tiny_bart", "tiny_t5", "tiny_gpt2", "tiny_llama"]
