"""Shared fixtures: compose configs the way the CLI does, and tiny tokenizers trained offline."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from sumexp.__main__ import CONF_DIR
from sumexp.schema import register_configs

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TINY_MODELS = ["tiny_bart", "tiny_t5", "tiny_gpt2", "tiny_llama"]


@pytest.fixture(scope="session")
def compose_config():
    """compose_config(["model=tiny_t5", ...]) -> the composed, typed run config."""
    register_configs()

    def _compose(overrides=()):
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))

    return _compose


@pytest.fixture(scope="session")
def sample_texts():
    from sumexp.data.sample import make_sample_splits

    train = make_sample_splits()["train"]
    return list(train["dialogue"]) + list(train["summary"])


@pytest.fixture(scope="session")
def tiny_tokenizers(compose_config, sample_texts):
    """{model name: its tokenizer trained on the sample}, as the task builds them."""
    from sumexp.models.loading import load_tokenizer

    return {name: load_tokenizer(compose_config([f"model={name}"]).model, sample_texts) for name in TINY_MODELS}
