"""Per-example dev ROUGE: the scorer's, in dev_predictions.csv, averaging exactly to the run's figures."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sumexp.results.files import write_dev_predictions, write_run_outputs
from sumexp.run.record import write_completed
from sumexp.score.bootstrap import percentile_interval, settings
from sumexp.score.rouge import METRICS, PER_EXAMPLE, score_rouge

PREDS = ["a b c", "d e", "x y z w", "g h i"]
REFS = [["a b c d", "a c"], ["d e f", "e d"], ["p q", "r s"], ["g h i", "g h"]]


def test_the_corpus_f1_is_the_mean_of_the_per_example_f1():
    result = score_rouge(PREDS, REFS, tokenizer="whitespace")
    for metric in METRICS:
        assert len(result[PER_EXAMPLE][metric]) == len(PREDS)
        assert np.mean(result[PER_EXAMPLE][metric]) == pytest.approx(result[metric]["fmeasure"], abs=1e-12)
    assert result[PER_EXAMPLE]["rouge1"][2] == 0.0 and result[PER_EXAMPLE]["rouge1"][0] > 0


def test_dev_predictions_carry_per_example_scores_and_still_rescore_exactly(tmp_path):
    from sumexp.score.cli import build_parser, score_files

    result = score_rouge(PREDS, REFS, tokenizer="whitespace")
    path = tmp_path / "dev_predictions.csv"
    write_dev_predictions(path, [f"dev_{i}" for i in range(4)], PREDS, REFS, result[PER_EXAMPLE])
    frame = pd.read_csv(path)
    assert list(frame.columns) == [
        "fname",
        "prediction",
        "summary1",
        "summary2",
        "rouge1",
        "rouge2",
        "rougeL",
        "rouge_mean",
    ]
    assert frame["rouge_mean"].mean() == pytest.approx(result["rouge_mean"], abs=1e-9)
    assert frame["rouge1"].mean() == pytest.approx(100 * result["rouge1"]["fmeasure"], abs=1e-9)
    again = score_files(build_parser().parse_args([str(path), str(path), "--tokenizer", "whitespace"]))
    assert again["ref_columns"] == ["summary1", "summary2"]  # the score columns are never read as references
    assert again["rouge_mean"] == pytest.approx(result["rouge_mean"], abs=1e-9)


def test_the_run_writes_per_example_scores_to_the_csv_and_only_the_interval_to_metrics(tmp_path):
    from sumexp.results.metrics import dev_rouge_interval, percent_scores

    scores = score_rouge(PREDS, REFS, tokenizer="whitespace")
    metrics = {"status": "completed", "dev_rouge": percent_scores(scores), **dev_rouge_interval(scores)}
    splits = SimpleNamespace(dev=SimpleNamespace(ids=[f"dev_{i}" for i in range(4)], references=REFS), test=None)
    write_run_outputs(tmp_path, metrics, splits, PREDS, None, [])
    write_completed(tmp_path, metrics)  # as the task does, after the outputs
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert PER_EXAMPLE not in record["dev_rouge"]
    column = pd.read_csv(tmp_path / "dev_predictions.csv")["rouge_mean"]
    assert record["dev_rouge_mean_ci95"] == pytest.approx(list(percentile_interval(column)), abs=1e-9)
    assert record["dev_rouge_bootstrap"] == settings() == {"resamples": 1000, "seed": 0, "method": "percentile"}
    assert record["dev_rouge_mean_ci95"][0] <= scores["rouge_mean"] <= record["dev_rouge_mean_ci95"][1]


@pytest.mark.slow
def test_a_real_run_records_per_example_scores_and_its_interval(tmp_path):
    from tests.support.cli import assert_outputs_rescore_to_the_metrics, sumexp_cli

    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        "data.max_train_samples=16",
        "data.max_eval_samples=8",
        "optim.max_steps=2",
        "optim.eval_on_start=false",
        "generation.num_beams=1",
        "generation.max_new_tokens=8",
        "score.tokenizer=whitespace",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert_outputs_rescore_to_the_metrics(tmp_path, metrics, "whitespace")
    frame = pd.read_csv(tmp_path / "dev_predictions.csv")
    assert len(frame) == 8 and frame["rouge_mean"].mean() == pytest.approx(metrics["dev_rouge_mean"], abs=1e-9)
    assert frame["rougeL"].mean() == pytest.approx(metrics["dev_rougeL"], abs=1e-9)
    lo, hi = metrics["dev_rouge_mean_ci95"]
    assert lo <= metrics["dev_rouge_mean"] <= hi
    assert [lo, hi] == pytest.approx(list(percentile_interval(frame["rouge_mean"])), abs=1e-9)
    assert metrics["dev_rouge_bootstrap"] == {"resamples": 1000, "seed": 0, "method": "percentile"}


def test_no_dev_examples_record_no_interval():
    from sumexp.results.metrics import dev_rouge_interval

    empty = {PER_EXAMPLE: {metric: [] for metric in METRICS}}
    assert dev_rouge_interval(empty)["dev_rouge_mean_ci95"] is None
