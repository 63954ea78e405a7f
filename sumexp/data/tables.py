"""Read CSV/JSONL tables and pull single- or multi-reference summaries out of them.

Shared by the training data loader and the `python -m sumexp.score` CLI, so both agree on
which columns count as references. Every way a file can be unreadable is a UserError that names
the file, what is wrong and the fix; anything else escaping from here is a bug.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import os
import re
import stat
from pathlib import Path

import pandas as pd

from sumexp.errors import UserError, first_line

TABLE_SUFFIXES = (".csv", ".jsonl", ".json", ".tsv")
SEPARATORS = {".csv": ",", ".tsv": "\t"}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Cells that mean "no value" when a spreadsheet or pandas wrote the file; never a real dialogue or summary.
BLANK_MARKERS = {"", "nan", "none", "null", "na", "n/a", "#n/a", "<na>"}
# A table is read whole into memory, where it takes several times its size: beyond this a file is refused
# (a wrong path to a disk image, a file of NULs) rather than left to the out-of-memory killer on a shared node.
MAX_FILE_MB = 1024


def read_table(
    path: str | Path, encoding: str = "utf-8", max_mb: float = MAX_FILE_MB, limit_key: str = "data.max_file_mb"
) -> pd.DataFrame:
    """Read a CSV or JSONL file with every scalar cell as a string ("" stays "", never NaN). Only a regular file
    of at most `max_mb` MB (2**20 bytes) is read; `limit_key` is the setting that raises the limit."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise UserError(f"{path}: unsupported file type '{suffix}'; use one of {', '.join(TABLE_SUFFIXES)}")
    text = _decode(path, _readable_bytes(path, max_mb, limit_key), encoding)
    if not text.strip():
        raise UserError(f"{path}: the file is empty; write a header row and data rows into it")
    if "\x00" in text:  # never in a text table; a binary file, or UTF-16 read as UTF-8
        raise UserError(
            f"{path}: contains NUL characters, so it is not a text table; point the setting at the CSV or JSONL "
            f"file (for a UTF-16 file set data.encoding=utf-16)"
        )
    if suffix in SEPARATORS:
        return _parse_csv(path, text, SEPARATORS[suffix])
    return _parse_json_records(path, text)


def shown(value, limit: int = 40) -> str:
    """A cell or column name as a message shows it: on one line, shortened, odd characters escaped."""
    text = str(value)
    text = text if text.isprintable() else repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_blank(value) -> bool:
    """An empty cell, or one that only says 'no value' (NaN, null, ...)."""
    return str(value).strip().lower() in BLANK_MARKERS


def _readable_bytes(path: Path, max_mb: float, limit_key: str) -> bytes:
    """The file's bytes, if it is a regular file within the size limit. Opened without blocking, so that a FIFO
    (which would wait for a writer for ever) or a device (/dev/zero never ends) is refused, not read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a file; point the setting at the file inside it") from None
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"{path}: file not found; check the path") from None
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror}); check its permissions and its folder's") from None
    with open(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UserError(f"{path}: is a folder, not a file; point the setting at the file inside it")
        if not stat.S_ISREG(mode):
            raise UserError(
                f"{path}: is a {_kind_of(mode)}, not a regular file; it is not read (it could block or never end). "
                f"Save the table to a file and point the setting at it"
            )
        limit = int(max_mb * 2**20)
        try:
            raw = handle.read(limit + 1)
        except OSError as err:
            raise UserError(f"{path}: cannot read ({err.strerror}); check the file") from None
    if len(raw) > limit:
        raise UserError(
            f"{path}: is larger than {max_mb:g} MB, the most a data file may be ({limit_key}); raise {limit_key} "
            f"if the file is meant to be this big, or check the path"
        )
    return raw


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "socket" if stat.S_ISSOCK(mode) else "special file"


def _decode(path: Path, raw: bytes, encoding: str) -> str:
    """Text with any BOM removed and every line end (CRLF, CR) turned into \\n, inside cells too."""
    codec = "utf-8-sig" if _is_utf8(encoding) else encoding
    if _is_utf8(encoding) and raw.startswith(UTF16_BOMS):
        raise UserError(
            f"{path}: is UTF-16 (it starts with a UTF-16 byte-order mark), not UTF-8; re-save it as UTF-8 "
            f"(iconv -f utf-16 -t utf-8 IN > OUT), or for training data set data.encoding=utf-16"
        )
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as err:
        raise UserError(_not_encoded_message(path, raw, encoding, err)) from None
    except LookupError:
        raise UserError(unknown_encoding(encoding)) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def unknown_encoding(encoding: str) -> str | None:
    """Why data.encoding is not one Python can decode with, or None."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        return f"data.encoding={encoding}: not an encoding Python knows; use e.g. utf-8 or cp949"
    return None


def _not_encoded_message(path: Path, raw: bytes, encoding: str, err: UnicodeDecodeError) -> str:
    where = f"byte 0x{raw[err.start]:02x} at offset {err.start}"
    if _is_utf8(encoding) and _decodes_as_korean(raw):
        return (
            f"{path}: not UTF-8 ({where}); it looks like cp949 (EUC-KR), common for Korean files saved by Excel. "
            f"Re-save it as UTF-8 (iconv -f cp949 -t utf-8 IN > OUT), or for training data set data.encoding=cp949"
        )
    return f"{path}: not valid {encoding} ({where}); re-save it as UTF-8, or set data.encoding to the file's encoding"


def _is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8")


def _decodes_as_korean(raw: bytes) -> bool:
    try:
        text = raw.decode("cp949")
    except UnicodeDecodeError:
        return False
    return re.search("[\uac00-\ud7a3]", text) is not None


def _parse_csv(path: Path, text: str, separator: str) -> pd.DataFrame:
    _refuse_other_separator(path, text, separator)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, csv.Error) as err:
        raise UserError(f"{path}: cannot parse as CSV ({first_line(err)}); fix the file (a quote left open?)") from None
    _refuse_short_records(path, text, separator)
    return frame


def _refuse_other_separator(path: Path, text: str, separator: str) -> None:
    """A tab-separated file named .csv parses as one column or as quotes left open; say what it is."""
    header = text.split("\n", 1)[0]
    if separator == "," and "\t" in header and "," not in header:
        raise UserError(
            f"{path}: looks tab-separated (its header has tabs, no commas); rename it to {path.stem}.tsv and point "
            f"the data.*_file setting at that name (read as tab-separated), or save it as CSV"
        )


def _refuse_short_records(path: Path, text: str, separator: str) -> None:
    """A record with fewer cells than the header: a cell with line breaks that was not quoted, whose
    lines became rows of their own (ids that are pieces of dialogue). pandas would pad them silently."""
    # The csv module refuses a cell over 131,072 characters by default; the file's size already bounds them.
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    records = csv.reader(io.StringIO(text), delimiter=separator)
    width = len(next(records, []))
    for record in records:
        if 0 < len(record) < width and any(cell.strip() for cell in record):
            raise UserError(
                f"{path}: line {records.line_num} has {len(record)} of the header's {width} cells "
                f"(starts '{shown(record[0])}'): a cell with line breaks that is not in double quotes? Quote such "
                f"cells (a spreadsheet's Save as CSV does), then load the file again"
            )


def _parse_json_records(path: Path, text: str) -> pd.DataFrame:
    """JSON Lines (one object a line), or a .json file holding one array of objects."""
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        records = _load_json(path, text, "the file")
        if not isinstance(records, list):
            raise UserError(f"{path}: expected an array of objects; write one object per row")
        for number, record in enumerate(records, start=1):
            _require_object(path, record, f"item {number}")
    else:
        records = []
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                records.append(_require_object(path, _load_json(path, line, f"line {number}"), f"line {number}"))
    if not records:
        raise UserError(f"{path}: no rows; write one JSON object per line")
    return pd.DataFrame.from_records(records).apply(lambda col: col.map(_as_text))


def _load_json(path: Path, text: str, where: str):
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        detail = f"{err.msg} at column {err.colno}" if isinstance(err, json.JSONDecodeError) else "nested too deeply"
        raise UserError(f"{path}: {where} is not valid JSON ({detail}); fix or remove that line") from None


def _require_object(path: Path, record, where: str) -> dict:
    if not isinstance(record, dict):
        raise UserError(
            f"{path}: {where} is a JSON {type(record).__name__}, not an object; write one {{...}} object per row"
        )
    return record


def _as_text(value):
    """Keep list cells (multi-reference) as lists of strings; everything else becomes a string."""
    if isinstance(value, (list, tuple)):
        return [_scalar_text(v) for v in value]
    return _scalar_text(value)


def _scalar_text(value) -> str:
    """null and NaN become ""; nested objects stay readable as JSON; line ends become \\n."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def reference_columns(frame: pd.DataFrame, column: str = "summary") -> list[str]:
    """`column` itself if present, then `column1`, `column2`, ... in numeric order."""
    numbered = sorted(
        (c for c in frame.columns if re.fullmatch(re.escape(column) + r"\d+", str(c))),
        key=lambda c: int(str(c)[len(column) :]),
    )
    return ([column] if column in frame.columns else []) + numbered


def reference_lists(frame: pd.DataFrame, columns: list[str]) -> list[list[str]]:
    """One list of non-blank references per row; list-valued cells are expanded in place."""
    rows = []
    for values in zip(*(frame[c] for c in columns)):
        refs: list[str] = []
        for value in values:
            refs.extend(value if isinstance(value, list) else [value])
        rows.append([str(r) for r in refs if not is_blank(r)])
    return rows
