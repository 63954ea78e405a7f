"""Check the rows of one split: blank ids, dialogues or summaries, and ids that repeat."""

from __future__ import annotations

import logging
from collections import Counter

from sumexp.data.tables import is_blank, shown
from sumexp.errors import UserError
from sumexp.text import visible_form

log = logging.getLogger(__name__)

ON_BAD_ROWS = ("drop", "error")  # data.on_bad_rows
SHOW = 5  # how many row ids a message lists


def on_bad_rows_problem(value: str) -> str | None:
    """Why data.on_bad_rows is not a choice, or None."""
    return None if value in ON_BAD_ROWS else f"data.on_bad_rows={value}: use one of {', '.join(ON_BAD_ROWS)}"


def rows_to_keep(
    source: str, ids: list[str], dialogues: list[str], references: list[list[str]], labelled: bool, on_bad_rows: str
) -> tuple[list[int], str | None]:
    """Positions of the rows to keep and a note on what was dropped, or a UserError per data.on_bad_rows.

    Test rows are never dropped: the submission needs every one of them, so they are kept with a warning.
    """
    bad = [i for i in range(len(ids)) if _is_bad(ids[i], dialogues[i], references[i], labelled)]
    everything = list(range(len(ids)))
    if not bad:
        return everything, None
    what = "an empty or NaN id, dialogue or summary" if labelled else "an empty or NaN id or dialogue"
    listed = _few([shown(ids[i]) if not is_blank(ids[i]) else f"row {i + 1}" for i in bad])
    if on_bad_rows == "error":
        raise UserError(
            f"{source}: {len(bad)} row(s) have {what} ({listed}); fill or remove them, "
            f"or set data.on_bad_rows=drop to skip them"
        )
    if not labelled:
        log.warning(f"{source}: {len(bad)} row(s) have {what} ({listed}); kept, since the submission needs every row")
        return everything, None
    if len(bad) == len(ids):
        raise UserError(
            f"{source}: all {len(ids)} rows have {what}; check that data.id_column, data.dialogue_column "
            f"and data.summary_column name the right columns"
        )
    note = f"{source}: dropped {len(bad)} row(s) with {what} ({listed}); data.on_bad_rows=error stops instead"
    log.warning(note)
    bad_set = set(bad)
    return [i for i in everything if i not in bad_set], note


def check_unique_ids(source: str, ids: list[str], id_column: str) -> None:
    """Predictions and the submission are keyed by id, so an id that repeats would be ambiguous; so would two
    ids that look the same and differ only in Unicode composition or in characters that print as nothing."""
    repeated = {i: n for i, n in Counter(visible_form(i) for i in ids).items() if n > 1}
    if repeated:
        listed = _few([f"{shown(i) or '(empty)'} x{n}" for i, n in repeated.items()])
        invisible = " (some differ only in characters that print as nothing, or in Unicode composition)"
        raise UserError(
            f"{source}: {len(repeated)} {id_column} value(s) appear more than once ({listed})"
            f"{invisible if len(set(ids)) != len(set(map(visible_form, ids))) else ''}; "
            f"make each id unique, or set data.id_column to a column that is"
        )


def _is_bad(row_id: str, dialogue: str, references: list[str], labelled: bool) -> bool:
    return is_blank(row_id) or is_blank(dialogue) or (labelled and not references)


def _few(names: list[str]) -> str:
    shown = ", ".join(names[:SHOW])
    return shown + (f", ... {len(names) - SHOW} more" if len(names) > SHOW else "")
