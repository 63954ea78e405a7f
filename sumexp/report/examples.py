"""A run's dev examples (dev_predictions.csv): summaries, references, per-example ROUGE, the dev set's fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sumexp.errors import UserError

SCORE_COLUMNS = ("rouge1", "rouge2", "rougeL", "rouge_mean")  # 0-100, as results.files writes them


@dataclass
class DevExamples:
    fnames: list[str]
    references: list[list[str]]
    predictions: list[str]
    scores: dict[str, np.ndarray] | None  # SCORE_COLUMNS by name; None for a file written before they existed
    fingerprint: str  # of the fnames and references: two runs pair only when they scored the same dev set


def read_dev_examples(run_dir: Path) -> DevExamples | None:
    """The run's dev examples, or None when it has no readable dev_predictions.csv."""
    from sumexp.data.tables import read_table, reference_columns, reference_lists
    from sumexp.results.spreadsheet import from_text_cells

    path = Path(run_dir) / "dev_predictions.csv"
    if not path.is_file():
        return None
    try:
        frame = read_table(path)
    except UserError:
        return None  # a half-copied or foreign file: the run shows no per-example figures rather than failing
    names = reference_columns(frame, "summary")
    if not {"fname", "prediction"} <= set(frame.columns) or not names:
        return None
    frame = from_text_cells(
        frame, ["fname", "prediction", *names]
    )  # the quotes that keep a spreadsheet from running them
    fnames, references = frame["fname"].tolist(), reference_lists(frame, names)
    return DevExamples(
        fnames, references, frame["prediction"].tolist(), _scores(frame), fingerprint(fnames, references)
    )


def fingerprint(fnames: list[str], references: list[list[str]]) -> str:
    """A short hash of the dev ids and their references, in order."""
    text = json.dumps([fnames, references], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _scores(frame) -> dict[str, np.ndarray] | None:
    if not set(SCORE_COLUMNS) <= set(frame.columns):
        return None
    try:
        return {name: frame[name].astype(float).to_numpy() for name in SCORE_COLUMNS}
    except ValueError:
        return None
