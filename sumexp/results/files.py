"""Write a run's results into its folder, each file complete or not at all."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    write_atomic(path, frame.to_csv(index=False))


def write_dev_predictions(path: Path, ids, predictions, references) -> None:
    """fname, prediction, references (a JSON list, so multi-reference rows stay one cell)."""
    refs = [json.dumps(r, ensure_ascii=False) for r in references]
    write_csv(path, pd.DataFrame({"fname": ids, "prediction": predictions, "references": refs}))


def write_submission(path: Path, ids, summaries) -> None:
    """The competition's submission format: fname, summary, in the test file's order."""
    write_csv(path, pd.DataFrame({"fname": ids, "summary": summaries}))


def write_failure(run_dir: Path, error: str, stage: str) -> None:
    """A metrics.json that says the run failed and why, so a sweep's report still lists it."""
    write_json(run_dir / "metrics.json", {"status": "failed", "stage": stage, "error": error})


def write_run_outputs(run_dir: Path, metrics: dict, splits, evaluator, test_summaries, log_history) -> None:
    """Predictions, submission and training log first; metrics.json last marks the run complete."""
    write_dev_predictions(run_dir / "dev_predictions.csv", splits.dev.ids, evaluator.predictions, splits.dev.references)
    if test_summaries is not None:
        write_submission(run_dir / "submission.csv", splits.test.ids, test_summaries)
    write_atomic(run_dir / "train_log.jsonl", "".join(json.dumps(entry) + "\n" for entry in log_history))
    write_json(run_dir / "metrics.json", metrics)
