"""sumexp/results/metrics.py on hand-made inputs: the 0-100 scale, the train loss over every step from the logged
windows, values read from a log history, the dev interval's per-example means, and the one-line summary."""

from __future__ import annotations

import pytest

from sumexp.results.metrics import (
    dev_rouge_interval,
    last_logged,
    logged_at,
    mean_train_loss,
    percent_scores,
    summary_line,
    untrained_score,
)
from sumexp.score import bootstrap

# A resumed run's log as the Trainer keeps it: loss windows (each the mean since the previous log), evaluations,
# one at step 0 (optim.eval_on_start), not in step order.
LOG_HISTORY = [
    {"eval_rouge_mean": 0.4, "step": 0},
    {"loss": 2.0, "learning_rate": 1e-3, "step": 10},
    {"eval_rouge_mean": 12.5, "step": 10},
    {"loss": 0.5, "learning_rate": 2e-4, "step": 40},
    {"loss": 1.0, "learning_rate": 5e-4, "step": 30},
    {"eval_rouge_mean": 20.0, "step": 40},
    {"train_runtime": 9.5, "step": 40},
]


def test_percent_scores_moves_each_metric_to_0_100_and_leaves_the_rest():
    scores = {
        "rouge1": {"precision": 0.5, "recall": 0.25, "fmeasure": 0.125},
        "rouge2": {"precision": 0.0, "recall": 1.0, "fmeasure": 0.75},
        "rougeL": {"precision": 0.2, "recall": 0.4, "fmeasure": 0.3},
        "rouge_mean": 39.17,
        "tokenizer": "morpheme",
    }
    scaled = percent_scores(scores)
    assert scaled["rouge1"] == {"precision": 50.0, "recall": 25.0, "fmeasure": 12.5}
    assert scaled["rouge2"] == {"precision": 0.0, "recall": 100.0, "fmeasure": 75.0}
    assert scaled["rougeL"] == pytest.approx({"precision": 20.0, "recall": 40.0, "fmeasure": 30.0})
    assert scaled["rouge_mean"] == 39.17 and scaled["tokenizer"] == "morpheme"  # already 0-100, or not a score
    assert scores["rouge1"]["precision"] == 0.5  # the scorer's own result is not changed


def test_mean_train_loss_weighs_each_logged_window_by_its_steps():
    # windows 0-10, 10-30 and 30-40 (sorted by step): (2.0 * 10 + 1.0 * 20 + 0.5 * 10) / 40
    assert mean_train_loss(LOG_HISTORY) == pytest.approx(45 / 40)
    assert mean_train_loss([{"loss": 3.0, "step": 4}]) == 3.0
    assert mean_train_loss([{"eval_rouge_mean": 1.0, "step": 0}]) is None  # nothing trained, nothing logged
    assert mean_train_loss([]) is None


def test_last_logged_and_logged_at_read_the_history():
    assert last_logged(LOG_HISTORY, "eval_rouge_mean") == 20.0
    assert last_logged(LOG_HISTORY, "learning_rate") == 5e-4  # the last entry in the list, not the highest step
    assert last_logged(LOG_HISTORY, "grad_norm") is None
    assert logged_at(LOG_HISTORY, 10, "eval_rouge_mean") == 12.5
    assert logged_at(LOG_HISTORY, 30, "loss") == 1.0
    assert logged_at(LOG_HISTORY, 30, "eval_rouge_mean") is None
    assert logged_at(LOG_HISTORY, 99, "loss") is None


def test_untrained_score_is_the_evaluation_at_step_0_only():
    assert untrained_score(LOG_HISTORY) == 0.4
    assert untrained_score(LOG_HISTORY[1:]) is None  # no evaluation on start
    assert untrained_score([{"loss": 5.0, "step": 0}, {"eval_rouge_mean": 3.0, "step": 5}]) is None


def test_dev_rouge_interval_is_over_each_examples_mean_of_the_three_f1():
    # examples' (rouge1, rouge2, rougeL) F1: their means on 0-100 are 60, 20, 50 and 10
    per_example = {"rouge1": [0.9, 0.3, 0.6, 0.1], "rouge2": [0.3, 0.0, 0.4, 0.1], "rougeL": [0.6, 0.3, 0.5, 0.1]}
    result = dev_rouge_interval({"per_example": per_example})
    lo, hi = result["dev_rouge_mean_ci95"]
    assert (lo, hi) == pytest.approx(bootstrap.percentile_interval([60.0, 20.0, 50.0, 10.0]))
    assert 10.0 <= lo < 35.0 < hi <= 60.0  # around the mean of the four, within their range
    assert result["dev_rouge_bootstrap"] == {
        "resamples": bootstrap.RESAMPLES,
        "seed": bootstrap.SEED,
        "method": bootstrap.METHOD,
    }
    same = {"rouge1": [0.3, 0.3, 0.3], "rouge2": [0.6, 0.6, 0.6], "rougeL": [0.9, 0.9, 0.9]}
    assert dev_rouge_interval({"per_example": same})["dev_rouge_mean_ci95"] == pytest.approx([60.0, 60.0])
    empty = {"rouge1": [], "rouge2": [], "rougeL": []}
    assert dev_rouge_interval({"per_example": empty})["dev_rouge_mean_ci95"] is None


def summary_metrics(**changes) -> dict:
    metrics = {
        "model": "tiny_bart",
        "backend_requested": "full",
        "backend_effective": "full",
        "dev_rouge1": 40.125,
        "dev_rouge2": 20.0,
        "dev_rougeL": 35.5,
        "dev_rouge_mean": 31.875,
        "dev_rouge_mean_untrained": 0.4,
        "train_tokens_per_second": 1234.4,
        "peak_memory_mb": 511.6,
        "run_dir": "/runs/one",
    }
    return {**metrics, **changes}


def test_summary_line_rounds_each_figure_and_names_a_fallback():
    assert summary_line(summary_metrics()) == (
        "sumexp: tiny_bart / full | dev ROUGE-1/2/L 40.12/20.00/35.50 mean 31.88 (untrained 0.40) | "
        "1234 tokens/s | peak 512 MB | /runs/one"
    )
    fallback = summary_metrics(
        backend_requested="unsloth",
        backend_effective="lora",
        dev_rouge_mean_untrained=None,
        train_tokens_per_second=None,
    )
    assert summary_line(fallback) == (
        "sumexp: tiny_bart / unsloth -> lora | dev ROUGE-1/2/L 40.12/20.00/35.50 mean 31.88 (untrained n/a) | "
        "n/a tokens/s | peak 512 MB | /runs/one"
    )
