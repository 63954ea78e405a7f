"""Write a run's results into its folder, each file complete or not at all."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from sumexp.score.rouge import PER_EXAMPLE


@contextmanager
def replacing(path: Path, owner_only: bool = False) -> Iterator[BinaryIO]:
    """A binary handle on a new file beside `path`, renamed over `path` when the block ends: readers see the
    whole new file or the old one, never half of either; on an error the new file is removed. An owner-only
    file is born 0600; any other follows the umask, like every file the user writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        if not owner_only:
            as_umask_allows(fd)
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_together(files: dict[Path, bytes]) -> None:
    """Several files that belong together (a report's four): every one written beside its name first, then all
    renamed, so a failure while writing (a full disk) leaves the old set whole rather than half of each."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            staged.append((tmp, path))
            as_umask_allows(fd)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str) -> None:
    """`text` as UTF-8, replacing `path` whole (see `replacing`)."""
    with replacing(path) as handle:
        handle.write(text.encode("utf-8"))


def as_umask_allows(fd: int) -> None:
    """mkstemp makes files owner-only (0600); results are shared like any file the user writes (0644 under umask 022)."""
    umask = os.umask(0o077)  # reading the umask means setting it; put back at once
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)


def follow_umask(folder: Path) -> None:
    """Give every file under `folder` the mode the umask gives a new file: some writers (safetensors) make
    theirs owner-only, and a model shared with a group must be readable like the rest of its run."""
    umask = os.umask(0o077)  # reading the umask means setting it; put back at once
    os.umask(umask)
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o666 & ~umask)


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    write_atomic(path, frame.to_csv(index=False))


def write_dev_predictions(path: Path, ids, predictions, references, per_example: dict | None = None) -> None:
    """fname, prediction, the references as the data has them (`summary`, or summary1..N), then per-example F1.

    Plain text cells in the input's own column names, so `python -m sumexp.score FILE FILE`
    re-scores the run exactly (a JSON list in one cell would be scored as one reference); a cell that
    a spreadsheet would run as a formula gets a leading quote (results/spreadsheet.py), which the
    scorer and the report remove again; the score
    columns (rouge1, rouge2, rougeL, rouge_mean, 0-100) are not summary* columns, so it never reads them
    as references. `per_example`: the scorer's F1 lists (0-1) by metric, in the rows' order.
    """
    columns = {"fname": _text(ids), "prediction": _text(predictions)}
    most = max((len(refs) for refs in references), default=1)
    names = ["summary"] if most == 1 else [f"summary{i}" for i in range(1, most + 1)]
    for i, name in enumerate(names):
        columns[name] = _text(refs[i] if i < len(refs) else "" for refs in references)
    if per_example:
        for metric, f1 in per_example.items():
            columns[metric] = [100 * value for value in f1]
        columns["rouge_mean"] = [sum(row) / len(per_example) for row in zip(*(columns[m] for m in per_example))]
    write_csv(path, pd.DataFrame(columns))


def write_submission(path: Path, ids, summaries) -> None:
    """The competition's submission format: fname, summary, in the test file's order, every cell as given."""
    write_csv(path, pd.DataFrame({"fname": ids, "summary": summaries}))


def formula_warning(ids, summaries) -> str | None:
    """The warning for a submission whose cells a spreadsheet would run as formulas (kept as given: a grader
    matches the ids and reads the summaries as they are), or None."""
    from sumexp.data.tables import shown
    from sumexp.results.spreadsheet import formula_like

    cells = formula_like(ids) + formula_like(summaries)
    if not cells:
        return None
    examples = ", ".join(shown(cell, 20) for cell in cells[:3])
    return (
        f"submission.csv: {len(cells)} cell(s) begin with =, +, - or @ ({examples}); written as given for the "
        f"grader, but a spreadsheet that opens the file may run them as formulas: open it as text"
    )


def _text(cells) -> list:
    from sumexp.results.spreadsheet import as_text_cell

    return [as_text_cell(cell) for cell in cells]


def write_run_outputs(run_dir: Path, metrics: dict, splits, dev_predictions, test_summaries, log_history) -> None:
    """Predictions, submission and training log; then the caller writes the completed record, last."""
    # The per-example F1 rides in the scores to here and goes to dev_predictions.csv, not into metrics.json.
    per_example = metrics["dev_rouge"].pop(PER_EXAMPLE, None)
    write_dev_predictions(
        run_dir / "dev_predictions.csv", splits.dev.ids, dev_predictions, splits.dev.references, per_example
    )
    if test_summaries is not None:
        write_submission(run_dir / "submission.csv", splits.test.ids, test_summaries)
        warning = formula_warning(splits.test.ids, test_summaries)
        if warning:  # on the terminal, and in the record's data notes
            logging.getLogger("sumexp").warning(warning)
            metrics["data"]["notes"].append(warning)
    write_atomic(run_dir / "train_log.jsonl", "".join(json.dumps(entry) + "\n" for entry in log_history))
