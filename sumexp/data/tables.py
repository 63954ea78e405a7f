"""Read CSV/JSONL tables and pull single- or multi-reference summaries out of them.

Shared by the training data loader and the `python -m sumexp.score` CLI, so both agree on
which columns count as references.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from sumexp.errors import UserError

TABLE_SUFFIXES = (".csv", ".jsonl", ".json")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or JSONL file with every scalar cell as a string ("" stays "", never NaN)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found; check the path")
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty; write a header row and data rows into it")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix in (".jsonl", ".json"):
            frame = pd.read_json(path, lines=True, dtype=False)
            return frame.apply(lambda col: col.map(_as_text))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"{path}: cannot parse as {suffix[1:]} ({first_line}); fix the file") from None
    raise UserError(f"{path}: unsupported file type '{suffix}'; use one of {', '.join(TABLE_SUFFIXES)}")


def _as_text(value):
    """Keep list cells (multi-reference) as lists of strings; everything else becomes a string."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


def reference_columns(frame: pd.DataFrame, column: str = "summary") -> list[str]:
    """`column` itself if present, then `column1`, `column2`, ... in numeric order."""
    numbered = sorted(
        (c for c in frame.columns if re.fullmatch(re.escape(column) + r"\d+", str(c))),
        key=lambda c: int(str(c)[len(column):]),
    )
    return ([column] if column in frame.columns else []) + numbered


def reference_lists(frame: pd.DataFrame, columns: list[str]) -> list[list[str]]:
    """One list of non-empty references per row; list-valued cells are expanded in place."""
    rows = []
    for values in zip(*(frame[c] for c in columns)):
        refs: list[str] = []
        for value in values:
            refs.extend(value if isinstance(value, list) else [value])
        rows.append([r for r in refs if str(r).strip()])
    return rows
