"""A scratch model's base pretrained on the training dialogues (model.scratch.pretrain): what it sees, that it
learns, that the cache reuses it and rebuilds a damaged entry, and that the run record names the base."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest

from sumexp.errors import UserError
from tests.support.cli import QUICK_NO_CHECKPOINT, sumexp_cli

# A few seconds: 6 steps of 4 blocks of 32 tokens, on 16 training dialogues.
PRETRAIN = [
    "model.scratch.pretrain.steps=6",
    "model.scratch.pretrain.batch_size=4",
    "model.scratch.pretrain.block_size=32",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pretrain-cache")


@pytest.fixture(scope="module")
def pretrained_runs(tmp_path_factory, cache_dir):
    """tiny_llama lora then qlora from one pretrained base; the examples the pretraining was handed, decoded."""
    import sumexp.models.pretrain as pretrain_module

    seen = []
    real = pretrain_module.pretrain

    def spy(model, tokenizer, examples, settings):
        seen.append([tokenizer.decode(e[part]) for e in examples for part in ("input_ids", "labels")])
        return real(model, tokenizer, examples, settings)

    runs = {}
    with mock.patch.object(pretrain_module, "pretrain", spy):
        for backend in ("lora", "qlora"):
            run_dir = tmp_path_factory.mktemp(backend)
            result = sumexp_cli(
                "model=tiny_llama",
                f"backend={backend}",
                *QUICK_NO_CHECKPOINT,
                *PRETRAIN,
                f"cache_dir={cache_dir}",
                f"hydra.run.dir={run_dir}",
            )
            assert result.returncode == 0, result.stderr[-2000:]
            runs[backend] = run_dir
    return runs, seen


def lm_loss(model, tokenizer, examples: list[dict], batch_size: int = 16) -> float:
    """The mean token loss of `model` on `examples` (lm_examples of held-out dialogues): what pretraining lowers."""
    import torch
    from transformers import DataCollatorForSeq2Seq

    collator = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            batch = examples[i : i + batch_size]
            count = sum(len(e["labels"]) for e in batch)
            total += float(model(**collator(batch)).loss) * count
            tokens += count
    return total / tokens


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_pretraining_sees_the_training_dialogues_and_no_summary(pretrained_runs, compose_config):
    from sumexp.data.splits import load_splits

    _, seen = pretrained_runs
    assert len(seen) == 1  # the qlora run reused the base the lora run made
    text = "".join(seen[0])
    splits = load_splits(compose_config(["data.max_train_samples=16"]).data, 42)
    summaries = [ref for split in (splits.train, splits.dev) for refs in split.references for ref in refs]
    assert not [s for s in summaries if s in text]
    assert sum(d[:40] in text for d in splits.train.dialogues) >= 12  # the rest after the last block is dropped
    assert not [d for d in splits.dev.dialogues if d[:60] in text]


@pytest.mark.slow
def test_every_run_of_a_model_starts_from_the_one_cached_base_and_says_so(pretrained_runs, cache_dir):
    from sumexp.report.guide import how_to_read
    from sumexp.report.table import build_table

    runs, _ = pretrained_runs
    lora, qlora = _metrics(runs["lora"]), _metrics(runs["qlora"])
    assert lora["base_model"] == qlora["base_model"]
    assert lora["base_model"].startswith("pretrained here: 6 LM steps on 16 training dialogues")
    assert (lora["base_model_cache"], qlora["base_model_cache"]) == ("miss", "hit")
    (entry,) = [p for p in (cache_dir / "bases").iterdir() if not p.name.startswith(".")]
    key = json.loads((entry / "base.json").read_text())["key"]
    assert key[:12] in lora["base_model"]
    # The adapter's model/base is the cached base, byte for byte: a later predict needs no cache.
    for run_dir in runs.values():
        assert (run_dir / "model/base/model.safetensors").read_bytes() == (entry / "model.safetensors").read_bytes()
    table = build_table([lora, qlora])
    assert list(table["base_model"]) == [lora["base_model"]] * 2
    assert f"tiny_llama: {lora['base_model']}" in how_to_read(table, "full")


@pytest.mark.slow
def test_qlora_quantizes_the_pretrained_base(pretrained_runs):
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer

    from sumexp.backends.matrix import backend_for

    run_dir = pretrained_runs[0]["qlora"]
    cfg = OmegaConf.load(run_dir / ".hydra/config.yaml")
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    base = backend_for(cfg.backend, "qlora").trained_base(cfg, tokenizer, run_dir / "model")
    assert getattr(base, "is_loaded_in_4bit", False)


def _parts(compose_config, *overrides):
    """cfg, training dialogues, tokenizer and architecture config of tiny_llama on 16 sample dialogues."""
    from sumexp.data.splits import load_splits
    from sumexp.models.loading import load_model_config, load_tokenizer
    from sumexp.task import training_texts

    cfg = compose_config(["model=tiny_llama", "data.max_train_samples=16", *PRETRAIN, *overrides])
    splits = load_splits(cfg.data, cfg.seed)
    tokenizer = load_tokenizer(cfg.model, training_texts(splits.train))
    return cfg, splits, tokenizer, load_model_config(cfg.model, tokenizer)


@pytest.mark.slow
def test_a_damaged_or_half_written_entry_is_built_again_not_loaded(compose_config, tmp_path):
    from sumexp.models import base_cache
    from sumexp.models.base_cache import prepare_base

    cfg, splits, tokenizer, model_config = _parts(compose_config, f"cache_dir={tmp_path}")
    first = prepare_base(cfg, splits.train.dialogues, tokenizer, model_config, tmp_path)
    weights = Path(first.folder) / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])  # a disk that filled up, or an edit
    stale = Path(first.folder).with_name(f".{Path(first.folder).name}.99999.tmp")
    stale.mkdir()  # what a builder killed before its rename leaves
    with mock.patch.object(base_cache.log, "warning") as warning:
        again = prepare_base(cfg, splits.train.dialogues, tokenizer, model_config, tmp_path)
    assert again.cache == "miss" and "pretraining it again" in warning.call_args.args[0]
    assert weights.read_bytes() == whole  # rebuilt: the same seed makes the same base
    assert not stale.exists()
    assert prepare_base(cfg, splits.train.dialogues, tokenizer, model_config, tmp_path).cache == "hit"


@pytest.mark.slow
def test_what_changes_the_base_changes_its_key(compose_config):
    from sumexp.models.base_cache import cache_key
    from sumexp.models.loading import load_tokenizer

    cfg, splits, tokenizer, _ = _parts(compose_config)
    key = cache_key(cfg.model, tokenizer, splits.train.dialogues)
    assert key == cache_key(cfg.model, tokenizer, list(splits.train.dialogues))
    for override in (
        "model.scratch.pretrain.steps=7",
        "model.scratch.pretrain.learning_rate=1e-3",
        "model.scratch.pretrain.seed=1",
        "model.scratch.config.hidden_size=64",
    ):
        other = _parts(compose_config, override)
        assert cache_key(other[0].model, other[2], other[1].train.dialogues) != key, override
    assert cache_key(cfg.model, tokenizer, splits.train.dialogues[1:]) != key
    other_vocabulary = load_tokenizer(cfg.model, splits.train.dialogues[:4])
    assert cache_key(cfg.model, other_vocabulary, splits.train.dialogues) != key


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny_llama", "tiny_t5"])
def test_pretraining_lowers_the_loss_on_dev_dialogues(compose_config, model, tmp_path):
    import torch

    from sumexp.data.splits import load_splits
    from sumexp.models.base_cache import prepare_base
    from sumexp.models.loading import load_model, load_model_config, load_tokenizer
    from sumexp.models.pretrain import lm_examples
    from sumexp.task import training_texts

    cfg = compose_config(
        [
            f"model={model}",
            "model.scratch.pretrain.steps=20",
            "model.scratch.pretrain.batch_size=8",
            "model.scratch.pretrain.block_size=64",
            "data.max_train_samples=64",
            f"cache_dir={tmp_path}",
        ]
    )
    splits = load_splits(cfg.data, cfg.seed)
    tokenizer = load_tokenizer(cfg.model, training_texts(splits.train))
    config = load_model_config(cfg.model, tokenizer)
    base = prepare_base(cfg, splits.train.dialogues, tokenizer, config, tmp_path)
    dev = lm_examples(tokenizer, splits.dev.dialogues, config.is_encoder_decoder, cfg.model.scratch.pretrain)
    torch.manual_seed(cfg.model.scratch.pretrain.seed)
    random_loss = lm_loss(load_model(cfg.model, tokenizer, config), tokenizer, dev)
    pretrained_loss = lm_loss(load_model(cfg.model, tokenizer, config, folder=base.folder), tokenizer, dev)
    assert pretrained_loss < 0.8 * random_loss


def test_random_weights_and_checkpoints_are_named_without_pretraining(compose_config, tmp_path):
    from sumexp.models.base_cache import prepare_base

    random = prepare_base(compose_config(["model=tiny_llama"]), [], None, None, tmp_path)
    hub = prepare_base(compose_config(["model=kobart"]), [], None, None, tmp_path)
    assert (random.folder, random.description, random.cache) == (None, "random weights", None)
    assert (hub.folder, hub.description) == (None, "checkpoint gogamza/kobart-base-v2")


def test_pretrain_settings_are_checked_with_their_keys(compose_config):
    from sumexp.checks import check_config

    cfg = compose_config(
        [
            "model=tiny_llama",
            "model.scratch.pretrain.steps=-1",
            "model.scratch.pretrain.block_size=0",
            "model.scratch.pretrain.learning_rate=0",
        ]
    )
    with pytest.raises(UserError) as raised:
        check_config(cfg)
    for key in ("pretrain.steps=-1", "pretrain.block_size=0", "pretrain.learning_rate=0"):
        assert key in str(raised.value)


@pytest.mark.slow
def test_two_jobs_asking_for_one_base_at_once_pretrain_it_once(compose_config, tmp_path):
    """The flock serializes them (two descriptors conflict within one process too): one pretrains, one waits."""
    import threading

    import sumexp.models.pretrain as pretrain_module
    from sumexp.models.base_cache import prepare_base

    cfg, splits, tokenizer, model_config = _parts(compose_config, f"cache_dir={tmp_path}")
    calls, results = [], []
    real = pretrain_module.pretrain

    def slow_pretrain(*args):
        calls.append(1)
        return real(*args)

    def job():
        results.append(prepare_base(cfg, splits.train.dialogues, tokenizer, model_config, tmp_path))

    with mock.patch.object(pretrain_module, "pretrain", slow_pretrain):
        threads = [threading.Thread(target=job) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(calls) == 1
    assert sorted(r.cache for r in results) == ["hit", "miss"]
    assert len({r.folder for r in results}) == 1


def test_blocks_past_the_position_limit_are_one_line(compose_config, tmp_path):
    from sumexp.models.base_cache import prepare_base

    cfg, splits, tokenizer, model_config = _parts(
        compose_config, f"cache_dir={tmp_path}", "model.scratch.pretrain.block_size=600"
    )
    with pytest.raises(UserError, match=r"model.scratch.pretrain.block_size=600: above the model's 512 positions"):
        prepare_base(cfg, splits.train.dialogues, tokenizer, model_config, tmp_path)


@pytest.mark.slow
def test_sumexp_speed_times_the_backends_on_the_base_the_runs_trained(pretrained_runs, cache_dir, tmp_path):
    """python -m sumexp.speed builds its backends as a run does: from the same cached base, named in its file."""
    from sumexp.speed.cli import main as speed_main

    runs, _ = pretrained_runs
    argv = ["model=tiny_llama", "backend=full,lora", *QUICK_NO_CHECKPOINT, *PRETRAIN, f"cache_dir={cache_dir}"]
    assert speed_main([*argv, "--rounds", "2", "--steps", "1", "--out", str(tmp_path)]) == 0
    measured = json.loads((tmp_path / "speed-tiny_llama-cpu.json").read_text(encoding="utf-8"))
    assert measured["base"] == _metrics(runs["lora"])["base_model"] and "pretrained here" in measured["base"]
