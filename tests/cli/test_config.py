"""Composition: every model x data option composes to the typed schema; mistakes fail early."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

from sumexp.package_data import CONF_DIR
from tests.support.limits import hang_limit

MODELS = sorted(p.stem for p in (Path(CONF_DIR) / "model").glob("*.yaml"))
DATA = sorted(p.stem for p in (Path(CONF_DIR) / "data").glob("*.yaml"))


def test_every_required_model_option_exists():
    required = {
        "bart_base",
        "t5_base",
        "mt5_base",
        "flan_t5_base",
        "kobart",
        "kobart_summ",
        "kogpt2",
        "qwen2_5_0_5b",
        "tiny_bart",
        "tiny_t5",
        "tiny_gpt2",
        "tiny_llama",
    }
    assert required <= set(MODELS)
    assert {"sample", "dialogsum_ko", "csv", "jsonl", "hf"} <= set(DATA)


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("model", MODELS)
def test_every_model_and_data_option_composes(compose_config, model, data):
    cfg = compose_config([f"model={model}", f"data={data}"])
    assert cfg.model.name == model and cfg.data.name == data
    assert (cfg.model.checkpoint is None) != (cfg.model.scratch is None), "exactly one of checkpoint/scratch"
    assert "{dialogue}" in cfg.model.prompt_template


def test_family_values_are_data(compose_config):
    for name in ("t5_base", "mt5_base", "flan_t5_base", "tiny_t5"):
        model = compose_config([f"model={name}"]).model
        assert model.source_prefix == "summarize: " and model.allow_fp16 is False
    assert compose_config(["model=t5_base"]).model.learning_rate == 3e-4
    assert compose_config(["model=kobart"]).model.learning_rate == 5e-5
    kogpt2 = compose_config(["model=kogpt2"]).model.tokenizer_kwargs
    assert dict(kogpt2) == {
        "bos_token": "</s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    assert compose_config(["model=qwen2_5_0_5b"]).model.use_chat_template is True


def test_kobart_baseline_experiment_pins_the_public_baseline(compose_config):
    cfg = compose_config(["+experiment=kobart_baseline"])
    assert cfg.model.checkpoint == "digit82/kobart-summarization" and cfg.data.name == "dialogsum_ko"
    assert (cfg.model.max_source_length, cfg.model.max_target_length) == (512, 100)
    o = cfg.optim
    assert (o.lr, o.batch_size, o.eval_batch_size, o.epochs) == (1e-5, 50, 32, 20)
    assert (o.scheduler, o.warmup, o.weight_decay, o.precision) == ("cosine", 0.1, 0.01, "fp16")
    assert (o.early_stopping_patience, o.early_stopping_threshold) == (3, 0.001)
    g = cfg.generation
    assert (g.num_beams, g.no_repeat_ngram_size, g.max_new_tokens) == (4, 2, 100)


def test_misspelt_key_fails_at_composition(compose_config):
    with pytest.raises(ConfigCompositionException) as err:
        compose_config(["optim.learning_rat=0.1"])
    assert "learning_rat" in str(err.value)


def test_wrong_type_fails_at_composition(compose_config):
    with pytest.raises((ConfigCompositionException, ValidationError, ConfigKeyError)):
        compose_config(["optim.batch_size=lots"])


@pytest.mark.slow
def test_cfg_job_composes_a_hub_model_without_torch_or_network():
    """--cfg job must not import torch/transformers (and so cannot touch the hub)."""
    code = (
        "import sys, runpy; sys.argv=['sumexp','model=kobart_summ','--cfg','job'];\n"
        "try: runpy.run_module('sumexp', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print('HEAVY', sorted(m for m in ('torch','transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=hang_limit(120),
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stderr
    assert "checkpoint: digit82/kobart-summarization" in out.stdout
    assert "HEAVY []" in out.stdout
