"""The hub-shaped folders (tests/support/hub_models.py: KoBART, KoGPT2, T5, Qwen) under lora and qlora, and
under unsloth where the matrix lets it serve on a CPU (the causal ones). Their vocabularies lack the
placeholders, so these runs also resize the embeddings, which the tiny scratch models never do."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sumexp import predict
from sumexp.data.sample import make_sample_splits
from sumexp.task import run_experiment
from tests.support.cli import sumexp_cli
from tests.support.hub_models import HUB_SHAPES
from tests.support.skips import skip_unless_unsloth

pytestmark = pytest.mark.slow  # every test here starts a process or trains a model

SHORT_RUN = [
    "data.max_train_samples=32",
    "data.max_eval_samples=4",
    "optim.max_steps=4",
    "optim.batch_size=8",
    "optim.lr=1e-2",
    "optim.logging_steps=1",
    "optim.eval_on_start=false",
    "generation.num_beams=1",
    "generation.max_new_tokens=8",
    "score.tokenizer=whitespace",
]


def train_losses(run_dir) -> list[float]:
    entries = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    return [entry["loss"] for entry in entries if "loss" in entry]


@pytest.mark.parametrize("backend", ["lora", "qlora"])
@pytest.mark.parametrize("shape", list(HUB_SHAPES))
def test_hub_shaped_folders_train_under_adapters_and_reload(hub_model_config, tmp_path, shape, backend):
    cfg = hub_model_config(shape, f"backend={backend}", *SHORT_RUN)
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


@pytest.mark.parametrize("shape", [s for s in HUB_SHAPES if s in ("kogpt2", "qwen")])
def test_causal_hub_shaped_folders_train_under_unsloth(hub_folders, tmp_path, shape):
    option = HUB_SHAPES[shape][1]
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        f"model={option}",
        f"model.checkpoint={hub_folders[shape]}",
        "backend=unsloth",
        "backend.fallback=false",
        *SHORT_RUN,
    )
    skip_unless_unsloth(run)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # On a CPU unsloth's loader builds stock transformers + bitsandbytes + peft: recorded as what it computes.
    assert (metrics["status"], metrics["backend_requested"], metrics["backend_effective"]) == (
        "completed",
        "unsloth",
        "qlora",
    )
    losses = train_losses(tmp_path)
    assert len(losses) == 4 and losses[-1] < losses[0], losses
