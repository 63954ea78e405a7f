"""End to end: the real CLI in a subprocess, and one short in-process run per tiny model."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sumexp.data.sample import write_sample
from sumexp.task import run_experiment
from tests.support.cli import (
    assert_one_log_entry_per_evaluation,
    assert_outputs_rescore_to_the_metrics,
    expect_one_line_error,
    sumexp_cli,
)
from tests.support.repo import SHARED_DATA, TINY_MODELS

pytestmark = pytest.mark.slow  # every test here starts a process or trains a model

RUN_OUTPUTS = [
    "metrics.json",
    "dev_predictions.csv",
    "submission.csv",
    "train_log.jsonl",
    "model/config.json",
    "model/tokenizer_config.json",
]
# The default run must beat its own untrained model by this many ROUGE-mean points (0-100 scale).
# Measured: 75.8 vs 0.2 for tiny_bart (55 before length-grouped batches); 20 leaves room for noise yet fails if nothing was learned.
LEARNING_MARGIN = 20.0


@pytest.mark.slow
def test_default_run_learns_and_writes_every_output(tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}")
    assert run.returncode == 0, run.stderr[-3000:]
    for name in RUN_OUTPUTS + [".hydra/config.yaml", "sumexp.log"]:
        assert (tmp_path / name).is_file(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["dev_rouge_mean"] >= metrics["dev_rouge_mean_untrained"] + LEARNING_MARGIN, metrics
    assert "sumexp: tiny_bart / full | dev ROUGE" in run.stdout
    predictions = pd.read_csv(tmp_path / "dev_predictions.csv")
    assert len(predictions) == 50 and list(predictions.columns) == [
        "fname",
        "prediction",
        "summary",
        "rouge1",
        "rouge2",
        "rougeL",
        "rouge_mean",
    ]  # the per-example F1 of each dev summary follows its references
    assert_outputs_rescore_to_the_metrics(tmp_path, metrics, "morpheme")
    assert_one_log_entry_per_evaluation(tmp_path)
    submission = pd.read_csv(tmp_path / "submission.csv")
    assert list(submission.columns) == ["fname", "summary"]
    assert list(submission["fname"]) == [f"test_{i}" for i in range(50)]
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.slow
def test_saved_model_reproduces_the_dev_predictions(compose_config, tmp_path):
    """The saved best model, reloaded with from_pretrained, generates what the run recorded."""
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        "model=tiny_llama",
        "generation.num_beams=1",
        "optim.epochs=2",
        "data.max_eval_samples=8",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sumexp.data.sample import make_sample_splits
    from sumexp.features import Encoder
    from sumexp.generation import generate_summaries
    from sumexp.schema import GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    dialogues = list(make_sample_splits()["dev"]["dialogue"][:8])
    encoder = Encoder.from_config(compose_config(["model=tiny_llama"]).model, tokenizer, is_encoder_decoder=False)
    again = generate_summaries(
        model,
        tokenizer,
        [encoder.prompt_ids(d) for d in dialogues],
        GenerationConfig(num_beams=1),
        max_new_tokens=64,
        batch_size=8,
    )
    recorded = pd.read_csv(tmp_path / "dev_predictions.csv", keep_default_na=False)["prediction"].tolist()
    assert again == recorded


@pytest.mark.parametrize("model", TINY_MODELS)
def test_each_tiny_model_runs_end_to_end(compose_config, tmp_path, model):
    cfg = compose_config(
        [
            f"model={model}",
            "data.max_train_samples=48",
            "data.max_eval_samples=8",
            "optim.max_steps=6",
            "optim.batch_size=8",
            "generation.num_beams=1",
            "generation.max_new_tokens=8",
            "score.tokenizer=whitespace",
        ]
    )
    metrics = run_experiment(cfg, run_dir=tmp_path)
    assert metrics["status"] == "completed" and metrics["train_steps"] == 6
    assert metrics["family"] == ("seq2seq" if model in ("tiny_bart", "tiny_t5") else "causal")
    assert metrics["params_trainable"] == metrics["params_total"] > 0
    assert metrics["backend_effective"] == "full" and metrics["peak_memory_mb"] > 0
    assert metrics["dev_rouge_mean_untrained"] is not None
    for name in RUN_OUTPUTS:
        assert (tmp_path / name).is_file(), name
    assert len(pd.read_csv(tmp_path / "submission.csv")) == 50
    assert json.loads((tmp_path / "metrics.json").read_text())["dev_rouge_mean"] == metrics["dev_rouge_mean"]
    assert_outputs_rescore_to_the_metrics(tmp_path, metrics, "whitespace")
    assert_one_log_entry_per_evaluation(tmp_path)


def test_bad_data_folder_is_one_line_and_recorded(tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}/run", "data=dialogsum_ko", f"data.dir={tmp_path}/missing")
    expect_one_line_error(run, "data.dir=", "folder not found")
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "failed"


def test_missing_columns_and_empty_split_are_one_line(tmp_path):
    write_sample(tmp_path / "data")
    pd.DataFrame({"fname": ["a"], "text": ["x"]}).to_csv(tmp_path / "data" / "dev.csv", index=False)
    run = sumexp_cli(f"hydra.run.dir={tmp_path}/run1", "data=dialogsum_ko", f"data.dir={tmp_path}/data")
    expect_one_line_error(run, "dev.csv", "missing column(s) dialogue, summary", "it has fname, text")
    pd.DataFrame(columns=["fname", "dialogue", "summary"]).to_csv(tmp_path / "data" / "dev.csv", index=False)
    run = sumexp_cli(f"hydra.run.dir={tmp_path}/run2", "data=dialogsum_ko", f"data.dir={tmp_path}/data")
    expect_one_line_error(run, "dev.csv", "no rows")


def test_bad_config_values_are_reported_together(tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}", "optim.precision=fp8", "score.tokenizer=jamo")
    expect_one_line_error(run, "optim.precision=fp8", "score.tokenizer=jamo")


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "dialogsum-ko").is_dir(), reason="../shared/data/dialogsum-ko is not present")
def test_real_korean_data_writes_a_complete_submission(tmp_path):
    data_dir = SHARED_DATA / "dialogsum-ko"
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        "data=dialogsum_ko",
        f"data.dir={data_dir}",
        "model=tiny_bart",
        "optim.max_steps=50",
        # what is tested is the data's path (the held-out dev split, 499 test rows in their order), not the
        # summaries: one short greedy summary per dialogue, dev scored once, on a few rows
        "optim.eval_on_start=false",
        "data.max_eval_samples=16",
        "generation.num_beams=1",
        "generation.max_new_tokens=16",
        timeout=1200,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    submission = pd.read_csv(tmp_path / "submission.csv")
    expected = pd.read_csv(data_dir / "test.csv")["fname"]
    assert len(submission) == 499 and list(submission["fname"]) == list(expected)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["data"]["train"]["rows"] == 399 and "train.csv not found" in metrics["data"]["notes"][0]


@pytest.mark.slow
def test_a_cli_run_records_the_memory_speed_and_load_fields(tmp_path):
    """In a process of its own: the RSS a run's training adds is measured against the process's peak."""
    fp32 = 4  # bytes per parameter of an fp32 weight or gradient
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        "model=tiny_llama",
        "backend=lora",
        "optim.max_steps=3",
        "data.max_eval_samples=4",
        "generation.num_beams=1",
        "generation.max_new_tokens=8",
        "score.tokenizer=whitespace",
        process=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    parts = ("memory_weights_bytes", "memory_gradients_bytes", "memory_optimizer_bytes")
    assert metrics["memory_model_state_bytes"] == sum(metrics[key] for key in parts)
    assert metrics["memory_weights_bytes"] == fp32 * metrics["params_total"]  # lora: an fp32 base and adapters
    assert metrics["memory_gradients_bytes"] == fp32 * metrics["params_trainable"]
    # A CPU run: no CUDA peaks; training adds a little RSS, far below the process's peak with the libraries.
    assert metrics["memory_train_peak_mb"] is None and metrics["memory_generation_peak_mb"] is None
    assert 0 < metrics["memory_train_rss_added_mb"] < metrics["peak_memory_mb"] / 4
    assert 0 < metrics["train_tokens_trained"] < metrics["train_tokens_processed"] == metrics["train_tokens"]
    assert metrics["train_trained_tokens_per_second"] < metrics["train_tokens_per_second"]
    assert metrics["train_load_average"] >= 0 and metrics["cpu_count"] >= 1
    # Each optimizer step timed, with its spread: what a ratio of separate runs' speeds carries.
    timed, total = metrics["train_steps_timed"], metrics["train_step_time_s"]
    median, p10, p90 = (metrics[f"train_step_seconds_{key}"] for key in ("median", "p10", "p90"))
    assert timed == metrics["train_steps"] == 3 and 0 < p10 <= median <= p90
    assert abs(median * timed - total) <= (p90 - p10) * timed + 1e-9 and p10 * timed <= total <= p90 * timed
