"""Text cells a spreadsheet shows as text: a cell that begins with =, +, -, @ (or a tab or carriage return)
is a formula to Excel, LibreOffice and Google Sheets, which run it when the file is opened.

dev_predictions.csv is meant for people to open, so its text cells are written with a leading single quote
where they would start a formula (the spreadsheets' own mark for "this is text"), and a cell that itself
begins with a quote gets one more, so reading strips exactly what writing added. submission.csv is read by
a grader, so it keeps every cell as given and the run warns instead.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def as_text_cell(value):
    """`value` with a leading quote when a spreadsheet would take it as a formula (or it starts with a quote)."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, TEXT_MARK)):
        return TEXT_MARK + value
    return value


def from_text_cell(value):
    """What `as_text_cell` was given: one leading quote removed where it marks a formula-like cell or a quote."""
    if isinstance(value, str) and value.startswith(TEXT_MARK) and value[1:].startswith((*FORMULA_STARTS, TEXT_MARK)):
        return value[1:]
    return value


def from_text_cells(frame, columns: Iterable[str]):
    """`frame` with `from_text_cell` applied to each of `columns` present in it."""
    frame = frame.copy()
    for column in columns:
        if column in frame.columns:
            frame[column] = [from_text_cell(value) for value in frame[column]]
    return frame


def formula_like(values: Iterable) -> list[str]:
    """The values a spreadsheet would run as a formula."""
    return [value for value in values if isinstance(value, str) and value.startswith(FORMULA_STARTS)]
