"""The hub-shaped folders (tests/support/hub_models.py: KoBART, KoGPT2, T5, Qwen) under lora and qlora, and
under unsloth where the matrix lets it serve on a CPU (the causal ones). Their vocabularies lack the
placeholders, so these runs also resize the embeddings, which the tiny scratch models never do."""

from __future__ import annotations

import pandas as pd
import pytest

from sumexp import predict
from sumexp.data.sample import make_sample_splits
from sumexp.task import run_experiment
from tests.support.cli import FOUR_LOGGED_STEPS
from tests.support.hub_models import HUB_SHAPES
from tests.support.runs import train_losses


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["lora", "qlora"])
@pytest.mark.parametrize("shape", list(HUB_SHAPES))
def test_hub_shaped_folders_train_under_adapters_and_reload(hub_model_config, tmp_path, shape, backend):
    cfg = hub_model_config(shape, f"backend={backend}", *FOUR_LOGGED_STEPS)
    metrics = run_experiment(cfg, run_dir=tmp_path)
    assert (metrics["status"], metrics["backend_effective"], metrics["backend_note"]) == ("completed", backend, None)
    assert metrics["tokenizer"]["lost_share"] == 0.0 and 0 < metrics["params_trainable_ratio"] < 0.5
    losses = train_losses(tmp_path)
    assert len(losses) == 4 and losses[-1] < losses[0], losses
    assert not (tmp_path / "model" / "base").exists()  # a checkpoint's base loads from model.checkpoint again
    # The placeholder rows were added by resizing, at random: the reloaded run must see the same ones.
    dialogues = list(make_sample_splits()["test"]["dialogue"])
    tokenizer = predict._tokenizer(tmp_path / "model")
    model = predict._backend(cfg, backend).load_trained(cfg, tokenizer, tmp_path / "model")
    submitted = pd.read_csv(tmp_path / "submission.csv", keep_default_na=False)["summary"].tolist()
    assert predict.summarize(cfg, model, tokenizer, dialogues) == submitted
