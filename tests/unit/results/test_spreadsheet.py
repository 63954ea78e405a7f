"""sumexp/results/spreadsheet.py: a cell a spreadsheet would run is written as text, and read back as it was."""

from __future__ import annotations

import pandas as pd

from sumexp.results.spreadsheet import as_text_cell, formula_like, from_text_cell, from_text_cells

CELLS = ["=1+1", "+82 10", "-bullet", "@mention", "\tindented", "'quoted", "''twice", "'plain", "plain", "", "a=b"]


def test_every_cell_reads_back_as_it_was_written():
    written = [as_text_cell(cell) for cell in CELLS]
    assert written[:7] == ["'=1+1", "'+82 10", "'-bullet", "'@mention", "'\tindented", "''quoted", "'''twice"]
    assert written[7:] == ["''plain", "plain", "", "a=b"]
    assert not formula_like(written)
    assert [from_text_cell(cell) for cell in written] == CELLS


def test_a_quote_that_marks_nothing_is_kept():
    """A cell of someone else's file that begins with a quote and a letter is text as it stands."""
    assert from_text_cell("'plain") == "'plain" and from_text_cell(3.5) == 3.5


def test_only_the_named_columns_are_read_back():
    frame = pd.DataFrame({"fname": ["'=a"], "rouge1": ["'=a"]})
    assert from_text_cells(frame, ["fname", "summary"]).to_dict("list") == {"fname": ["=a"], "rouge1": ["'=a"]}
