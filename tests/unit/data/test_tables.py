"""data/tables.py: what a table reader must take whole."""

from __future__ import annotations

import pandas as pd

from sumexp.data.tables import read_table


def test_a_cell_longer_than_the_csv_modules_default_limit_loads_exactly(tmp_path):
    """Python's csv module refuses a field over 131,072 characters by default (`_csv.Error`, a traceback); a long
    dialogue is data, bounded by the file's size limit, not by that default."""
    dialogue = "#Person1#: " + "가" * 200_000
    pd.DataFrame([{"fname": "d0", "dialogue": dialogue, "summary": "길다."}]).to_csv(tmp_path / "t.csv", index=False)
    frame = read_table(tmp_path / "t.csv")
    assert frame["dialogue"].tolist() == [dialogue] and frame["fname"].tolist() == ["d0"]
