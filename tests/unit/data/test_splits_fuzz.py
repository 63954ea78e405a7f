"""Fuzz the data loader: any CSV or JSONL content either loads into clean splits or raises the
one-line UserError, never another exception. A fixed budget (derandomized) keeps it fast and repeatable."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from sumexp.data.splits import load_splits
from sumexp.data.tables import is_blank
from sumexp.errors import UserError
from sumexp.schema import DataConfig

pytestmark = pytest.mark.slow  # hypothesis's fixed budgets: tens of seconds together

FUZZ = settings(
    max_examples=300, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
COLUMN_NAMES = ["fname", "dialogue", "summary", "summary1", "summary2", "topic", "", "요약", 'a "q"', "x,y"]
# Text with what breaks naive readers: quotes, delimiters, line ends of every kind, NA markers, Korean.
TRICKY = st.sampled_from(['"', ",", "\n", "\r\n", "\r", " ", "NaN", "null", "#Person1#: ", "안녕", "\t", "\ufeff"])
TEXT = st.lists(st.one_of(TRICKY, st.text(st.characters(exclude_categories=["Cs"]), max_size=6)), max_size=6).map(
    "".join
)
CELL = st.one_of(TEXT, st.text("가나다abc#: ", min_size=1, max_size=8))  # half the cells plainly filled
HANGUL_ASCII = st.text(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
        st.sampled_from("\n\r"),
    ),
    max_size=20,
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "cp949", "utf-16"])


def load_or_user_error(payload: bytes, suffix: str, encoding: str = "utf-8", with_test: bool = True):
    """Write `payload` as the train, dev (and test) file and load them: the Splits, or the UserError."""
    with tempfile.TemporaryDirectory() as folder:
        for split in ("train", "dev", "test"):
            Path(folder, f"{split}{suffix}").write_bytes(payload)
        cfg = OmegaConf.structured(
            DataConfig(
                name="fuzz",
                dir=folder,
                train_file=f"train{suffix}",
                dev_file=f"dev{suffix}",
                test_file=f"test{suffix}" if with_test else None,
                encoding=encoding,
            )
        )
        try:
            return load_splits(cfg, seed=0)
        except UserError as err:
            assert "\n" not in str(err) and str(err).strip(), repr(str(err))
            return err


def assert_clean(splits) -> None:
    """What every loaded split promises the rest of sumexp."""
    for split in filter(None, (splits.train, splits.dev, splits.test)):
        assert len(split.ids) == len(split.dialogues) == len(split.references) > 0
        assert len(set(split.ids)) == len(split.ids)
        assert all(isinstance(i, str) for i in split.ids)
        assert all(isinstance(d, str) and "\r" not in d for d in split.dialogues)
        for refs in split.references:
            assert all(isinstance(r, str) and "\r" not in r and not is_blank(r) for r in refs)
    for split in (splits.train, splits.dev):
        assert all(not is_blank(d) for d in split.dialogues) and all(split.references)
        assert all(not is_blank(i) for i in split.ids)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([".csv", ".jsonl", ".json"]))
def test_arbitrary_bytes_load_or_raise_user_error(payload, suffix):
    result = load_or_user_error(payload, suffix)
    if not isinstance(result, UserError):
        assert_clean(result)


@st.composite
def messy_csv(draw) -> tuple[bytes, str]:
    """Random columns (missing, repeated, odd names), ragged rows, stray quotes, any line ends and encoding."""
    columns = draw(st.lists(st.sampled_from(COLUMN_NAMES), min_size=1, max_size=5))
    if draw(st.booleans()):  # half the files have the columns sumexp needs, so the row checks run too
        columns = ["fname", "dialogue", "summary"] + columns[:2]
    width = st.integers(0, 6) if draw(st.booleans()) else st.just(len(columns))  # ragged or rectangular
    rows = draw(st.lists(width.flatmap(lambda n: st.lists(CELL, min_size=n, max_size=n)), max_size=6))
    quoted = draw(st.booleans())
    buffer = io.StringIO()
    if quoted:  # a well-quoted file: only the content is odd
        writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerow(columns)
        writer.writerows(rows)
    else:  # hand-made: cells joined with commas, quotes left as they are
        buffer.write("\n".join(",".join(row) for row in [columns, *rows]))
    encoding = draw(ENCODINGS)
    return buffer.getvalue().encode(encoding, errors="replace"), draw(st.sampled_from([encoding, "utf-8"]))


@FUZZ
@given(messy_csv())
def test_messy_csv_loads_clean_or_raises_user_error(case):
    payload, encoding = case
    result = load_or_user_error(payload, ".csv", encoding.replace("utf-8-sig", "utf-8"))
    if not isinstance(result, UserError):
        assert_clean(result)


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT)
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6
)
RECORDS = st.one_of(
    st.dictionaries(st.sampled_from(COLUMN_NAMES), JSON_VALUES, max_size=5),
    st.fixed_dictionaries(
        {
            "fname": st.one_of(CELL, st.integers()),
            "dialogue": st.one_of(CELL, JSON_VALUES),
            "summary": st.one_of(CELL, JSON_VALUES),
        },
        optional={"summary2": JSON_VALUES, "topic": JSON_VALUES},
    ),
)


@st.composite
def messy_jsonl(draw) -> bytes:
    """Objects with random keys and values, other JSON values, cut-off lines, blank lines, CRLF, BOM."""
    lines = []
    for record in draw(st.lists(st.one_of(RECORDS, RECORDS, JSON_VALUES), max_size=6)):
        line = json.dumps(record, ensure_ascii=draw(st.booleans()))
        if draw(st.integers(0, 9)) == 0:
            line = line[: draw(st.integers(0, len(line)))]  # a line cut short, as by a crashed writer
        lines.append(line)
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(["", " ", "\t"])))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf-8", errors="replace")


@FUZZ
@given(messy_jsonl())
def test_messy_jsonl_loads_clean_or_raises_user_error(payload):
    result = load_or_user_error(payload, ".jsonl")
    if not isinstance(result, UserError):
        assert_clean(result)


ROWS = st.lists(st.tuples(HANGUL_ASCII, HANGUL_ASCII, HANGUL_ASCII), min_size=1, max_size=6)


# Well-formed: Python's writer quotes a cell with a line break only for the characters of its own line end,
# so a lone \r under "\n" line ends would be a malformed file (any reader splits the row there).
WRITERS = st.sampled_from([("\r\n", csv.QUOTE_MINIMAL), ("\r\n", csv.QUOTE_ALL), ("\n", csv.QUOTE_ALL)])


@FUZZ
@given(ROWS, ENCODINGS, WRITERS)
def test_well_formed_csv_loads_exactly_what_was_written(rows, encoding, writer_style):
    """Quoted cells keep their commas, quotes and line breaks; only blank rows go, and repeated ids stop the run."""
    line_end, quoting = writer_style
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_end, quoting=quoting)
    writer.writerow(["fname", "dialogue", "summary"])
    writer.writerows(rows)
    result = load_or_user_error(
        buffer.getvalue().encode(encoding), ".csv", encoding.replace("utf-8-sig", "utf-8"), with_test=False
    )

    def normal(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n")

    kept = [(normal(i), normal(d), normal(s)) for i, d, s in rows if not (is_blank(i) or is_blank(d) or is_blank(s))]
    if not kept:
        assert isinstance(result, UserError) and "all" in str(result)
    elif len({i for i, _, _ in kept}) < len(kept):
        assert isinstance(result, UserError) and "more than once" in str(result)
    else:
        assert not isinstance(result, UserError), result
        assert result.dev.ids == [i for i, _, _ in kept]
        assert result.dev.references == [[s] for _, _, s in kept]
        assert result.dev.dialogues == ["\n".join(line.strip() for line in d.strip().splitlines()) for _, d, _ in kept]
        assert result.dev.dropped == len(rows) - len(kept)
