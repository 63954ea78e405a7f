"""Run modes: scoring a model without training, training without evaluation, the encoded-split cache,
and length-grouped training batches."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sumexp.task import run_experiment

QUICK = [
    "data.max_train_samples=48",
    "data.max_eval_samples=8",
    "generation.num_beams=1",
    "generation.max_new_tokens=8",
    "score.tokenizer=whitespace",
]


@pytest.mark.slow
def test_train_false_scores_the_model_as_loaded_and_writes_a_complete_folder(compose_config, tmp_path):
    from tests.support.cli import assert_outputs_rescore_to_the_metrics

    metrics = run_experiment(compose_config(["model=tiny_t5", "train=false", "optim.epochs=0", *QUICK]), tmp_path)
    assert metrics["status"] == "completed" and metrics["train_steps"] == 0
    assert metrics["dev_rouge_mean"] == metrics["dev_rouge_mean_untrained"]
    assert metrics["eval_seconds"] > 0 and "train_tokens_per_second" not in metrics
    assert len(pd.read_csv(tmp_path / "submission.csv")) == 50
    assert not (tmp_path / "model").exists() and not (tmp_path / "checkpoints").exists()
    assert json.loads((tmp_path / "metrics.json").read_text())["train_steps"] == 0
    assert_outputs_rescore_to_the_metrics(tmp_path, metrics, "whitespace")


@pytest.mark.slow
def test_training_without_evaluation_scores_the_final_weights_once(compose_config, tmp_path):
    metrics = run_experiment(compose_config(["optim.evaluate=false", "optim.max_steps=6", *QUICK]), tmp_path)
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert not any("eval_rouge_mean" in entry for entry in log)
    assert metrics["train_steps"] == 6 and metrics["dev_step"] == 6 and metrics["best_checkpoint_step"] is None
    assert (tmp_path / "model" / "config.json").is_file()


@pytest.mark.slow
def test_without_evaluation_checkpoints_are_spaced_out_in_time(compose_config, tmp_path):
    # The loss is logged at every checkpoint (and otherwise only every 1000 steps): the log shows the saves.
    def saved_steps(run_dir):
        log = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
        return [entry["step"] for entry in log if "loss" in entry]

    run = ["optim.evaluate=false", "optim.epochs=3", "optim.batch_size=16", "optim.logging_steps=1000", *QUICK]
    every_epoch = run_experiment(compose_config([*run, "optim.checkpoint_minutes=0"]), tmp_path / "every_epoch")
    spaced = run_experiment(compose_config(run), tmp_path / "spaced")  # 10 minutes: none in a few seconds
    assert saved_steps(tmp_path / "every_epoch") == [3, 6, 9]
    assert saved_steps(tmp_path / "spaced") == [9]  # the Trainer's own log at the end of training
    # The same training: only the logged windows differ, so the mean loss is summed in another order.
    assert spaced["train_loss"] == pytest.approx(every_epoch["train_loss"], rel=1e-6)
    assert spaced["dev_rouge_mean"] == every_epoch["dev_rouge_mean"]


@pytest.mark.slow
def test_train_tokens_count_every_real_token_of_an_epoch(compose_config, tmp_path):
    from transformers import AutoTokenizer

    from sumexp.data.splits import load_splits
    from sumexp.features import Encoder

    cfg = compose_config(["optim.evaluate=false", "optim.epochs=1", "optim.batch_size=16", *QUICK])
    metrics = run_experiment(cfg, tmp_path)
    # Re-encode the training split with the run's own tokenizer: source tokens plus summary tokens.
    encoder = Encoder.from_config(cfg.model, AutoTokenizer.from_pretrained(tmp_path / "model"), is_encoder_decoder=True)
    train = load_splits(cfg.data, cfg.seed).train
    examples = encoder.features(train.dialogues, train.first_references())
    assert len(examples) == 48 and metrics["train_steps"] == 3
    assert metrics["train_tokens"] == sum(len(e["input_ids"]) + len(e["labels"]) for e in examples)
    assert metrics["train_tokens_processed"] == metrics["train_tokens"]
    assert metrics["train_tokens_trained"] == sum(len(e["labels"]) for e in examples)  # the summaries


@pytest.mark.slow
def test_a_causal_model_trains_on_its_summary_tokens_and_processes_its_prompts_too(compose_config, tmp_path):
    from transformers import AutoTokenizer

    from sumexp.data.splits import load_splits
    from sumexp.features import IGNORE_INDEX, Encoder

    cfg = compose_config(["model=tiny_llama", "optim.evaluate=false", "optim.epochs=1", "optim.batch_size=16", *QUICK])
    metrics = run_experiment(cfg, tmp_path)
    encoder = Encoder.from_config(
        cfg.model, AutoTokenizer.from_pretrained(tmp_path / "model"), is_encoder_decoder=False
    )
    train = load_splits(cfg.data, cfg.seed).train
    examples = encoder.features(train.dialogues, train.first_references())
    assert len(examples) == 48 and metrics["train_steps"] == 3
    assert metrics["train_tokens_processed"] == sum(len(e["input_ids"]) for e in examples)  # prompt and summary
    assert metrics["train_tokens_trained"] == sum(sum(t != IGNORE_INDEX for t in e["labels"]) for e in examples)
    assert metrics["train_tokens_trained"] < metrics["train_tokens_processed"] / 2


@pytest.mark.slow
def test_the_second_run_reads_the_encoded_splits_from_the_cache(compose_config, tmp_path):
    overrides = ["model=tiny_llama", f"cache_dir={tmp_path / 'cache'}", "optim.max_steps=2", *QUICK]
    first = run_experiment(compose_config(overrides), tmp_path / "first")
    second = run_experiment(compose_config(overrides), tmp_path / "second")
    assert (first["encode_cache"], second["encode_cache"]) == ("miss", "hit")
    assert second["dev_rouge_mean"] == first["dev_rouge_mean"] and second["train_loss"] == first["train_loss"]
    other = run_experiment(compose_config([*overrides, "model.max_source_length=100"]), tmp_path / "other")
    assert other["encode_cache"] == "miss"  # another encoding setting is another entry
    off = run_experiment(compose_config([*overrides, "cache_dir=null"]), tmp_path / "off")
    assert off["encode_cache"] == "off"


@pytest.mark.slow
def test_a_cache_entry_that_opens_but_holds_other_ids_is_rebuilt_not_trusted(compose_config, tmp_path, caplog):
    """A well-formed .npz whose ids lie outside the vocabulary (or whose rows do not match the data) is not a hit:
    trusted, it crashed every later run with an IndexError until someone deleted it by hand."""
    import numpy as np

    overrides = [f"cache_dir={tmp_path / 'cache'}", "optim.max_steps=2", *QUICK]
    first = run_experiment(compose_config(overrides), tmp_path / "first")
    [entry] = (tmp_path / "cache" / "encoded").glob("*.npz")
    for poison in ("ids", "rows"):
        with np.load(entry) as data:
            arrays = dict(data)
        if poison == "ids":
            arrays["train_inputs.values"] = arrays["train_inputs.values"] + 10**6
        else:
            arrays["dev_prompts.lengths"] = arrays["dev_prompts.lengths"][:-1]
        with open(entry, "wb") as handle:
            np.savez(handle, **arrays)
        caplog.clear()
        again = run_experiment(compose_config(overrides), tmp_path / poison)
        assert again["encode_cache"] == "miss" and "ignoring cache entry" in caplog.text, caplog.text
        assert again["dev_rouge_mean"] == first["dev_rouge_mean"] and again["train_loss"] == first["train_loss"]
    assert run_experiment(compose_config(overrides), tmp_path / "healed")["encode_cache"] == "hit"  # rewritten


@pytest.mark.slow
def test_cached_splits_equal_freshly_encoded_ones(tiny_tokenizers, compose_config, tmp_path):
    from sumexp.data.splits import load_splits
    from sumexp.features import Encoder
    from sumexp.features_cache import encode_splits

    cfg = compose_config(["model=tiny_gpt2"])
    splits = load_splits(cfg.data, cfg.seed)
    encoder = Encoder.from_config(cfg.model, tiny_tokenizers["tiny_gpt2"], is_encoder_decoder=False)
    fresh = encode_splits(encoder, splits, None)
    encode_splits(encoder, splits, str(tmp_path))
    cached = encode_splits(encoder, splits, str(tmp_path))
    assert cached.cache == "hit"
    assert (cached.train, cached.dev, cached.dev_prompts, cached.test_prompts) == (
        fresh.train,
        fresh.dev,
        fresh.dev_prompts,
        fresh.test_prompts,
    )
    assert fresh.train[0] == encoder.train_features(splits.train.dialogues[0], splits.train.references[0][0])


def padding_share(trainer) -> float:
    pad = total = 0
    for batch in trainer.get_train_dataloader():
        total += batch["attention_mask"].numel()
        pad += int((batch["attention_mask"] == 0).sum())
    return pad / total


@pytest.mark.slow
def test_length_grouped_batches_pad_less(compose_config, tiny_tokenizers, tmp_path):
    import random

    from transformers.trainer_pt_utils import LengthGroupedSampler

    from sumexp.data.sample import make_sample_splits
    from sumexp.features import Encoder
    from sumexp.models.loading import load_model, load_model_config
    from sumexp.training.trainer import build_trainer, training_arguments

    tokenizer = tiny_tokenizers["tiny_bart"]
    # Dialogues of very different lengths, as real data has: one to six sample dialogues joined.
    rng, dialogues = random.Random(0), list(make_sample_splits()["train"]["dialogue"])
    long_and_short = ["\n".join(rng.sample(dialogues, rng.randint(1, 6))) for _ in range(256)]
    shares = {}
    for grouped in (True, False):
        cfg = compose_config(["model=tiny_bart", f"optim.group_by_length={grouped}", "optim.batch_size=4"])
        model = load_model(cfg.model, tokenizer, load_model_config(cfg.model, tokenizer))
        data = Encoder.from_config(cfg.model, tokenizer, True).features(long_and_short, ["요약"] * len(long_and_short))
        args = training_arguments(cfg, str(tmp_path), "fp32", learning_rate=1e-3)
        trainer = build_trainer(cfg, model, tokenizer, data, [], evaluator=None, args=args)
        assert isinstance(trainer._get_train_sampler(), LengthGroupedSampler) == grouped
        shares[grouped] = padding_share(trainer)
    assert shares[True] < shares[False] / 2, shares


def test_length_grouped_order_depends_on_seed_and_epoch_only():
    """A resumed run restores the global RNG to the checkpoint's state; the batches of the
    interrupted epoch must still come in the uninterrupted run's order."""
    import torch

    from sumexp.training.sampling import SeededLengthGroupedSampler

    lengths = [(7 * i) % 53 + 1 for i in range(200)]
    sampler = SeededLengthGroupedSampler(8, lengths=lengths, seed=42)
    sampler.set_epoch(3)
    first = list(sampler)
    torch.manual_seed(1234)  # another global RNG state
    again = SeededLengthGroupedSampler(8, lengths=lengths, seed=42)
    again.set_epoch(3)
    assert list(again) == first and sorted(first) == list(range(200))
    again.set_epoch(4)
    assert list(again) != first


@pytest.mark.slow
def test_evaluating_more_often_trains_the_same_model(compose_config, tmp_path):
    """Dev evaluations must not move the RNG that training's dropout draws from (tiny_t5 has dropout)."""

    def losses(run_dir):
        log = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
        return [(entry["step"], entry["loss"]) for entry in log if "loss" in entry]

    run = ["model=tiny_t5", "optim.max_steps=12", "optim.logging_steps=1", "optim.eval_on_start=false", *QUICK]
    often = run_experiment(compose_config([*run, "optim.eval_steps=3"]), tmp_path / "often")
    once = run_experiment(compose_config([*run, "optim.eval_steps=12"]), tmp_path / "once")
    assert len(losses(tmp_path / "often")) == 12
    assert losses(tmp_path / "often") == losses(tmp_path / "once")  # step by step, to the last digit
    assert often["train_loss"] == once["train_loss"]
