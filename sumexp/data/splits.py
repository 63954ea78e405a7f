"""Load the train/dev/test splits named by the `data` config and check them before anything heavy runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import pandas as pd

from sumexp.data.rows import check_unique_ids, rows_to_keep
from sumexp.data.sources import read_frames
from sumexp.data.tables import reference_columns, reference_lists, shown
from sumexp.errors import UserError


@dataclass
class Split:
    name: str
    source: str  # where the rows came from, for messages and results
    ids: list[str]
    dialogues: list[str]
    references: list[list[str]]  # 1..N per row; empty lists for an unlabelled test split
    dropped: int = 0  # rows left out for an empty id, dialogue or summary (data.on_bad_rows=drop)

    def first_references(self) -> list[str]:
        """The first reference of each row: what training (labels, dev loss) uses."""
        return [refs[0] for refs in self.references]

    def content(self) -> list:
        """Every id, dialogue and reference, in order: what a run of this split reads."""
        return [self.ids, self.dialogues, self.references]

    def fingerprint(self) -> str:
        """A hash of the split's content (not of its file's bytes: a re-saved file with the same rows matches)."""
        text = json.dumps(self.content(), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Splits:
    train: Split
    dev: Split
    test: Split | None
    notes: list[str] = field(default_factory=list)  # choices made for the user, also written to metrics


def load_splits(cfg, seed: int) -> Splits:
    """Read the three splits as configured; a missing train file can fall back to part of dev."""
    frames, notes = read_frames(cfg, seed)
    train = frame_to_split("train", frames["train"], cfg, labelled=True, notes=notes)
    dev = frame_to_split("dev", frames["dev"], cfg, labelled=True, notes=notes)
    test = frame_to_split("test", frames["test"], cfg, labelled=False, notes=notes) if "test" in frames else None
    if cfg.max_train_samples:
        train = _head(train, cfg.max_train_samples)
    if cfg.max_eval_samples:
        dev = _head(dev, cfg.max_eval_samples)
    return Splits(train, dev, test, notes)


def frame_to_split(
    name: str, frame_and_source: tuple[pd.DataFrame, str], cfg, labelled: bool, notes: list[str]
) -> Split:
    """One split from a read table: columns checked, dialogues cleaned, bad rows handled as data.on_bad_rows says."""
    frame, source = frame_and_source
    ref_cols = _check_columns(name, frame, source, cfg, labelled)
    ids = [str(i) for i in frame[cfg.id_column]]
    dialogues = [_clean_dialogue("\n".join(d) if isinstance(d, list) else str(d)) for d in frame[cfg.dialogue_column]]
    references = reference_lists(frame, ref_cols) if ref_cols else [[] for _ in ids]
    keep, note = rows_to_keep(source, ids, dialogues, references, labelled, cfg.on_bad_rows)
    if note:
        notes.append(note)
    split = Split(
        name,
        source,
        [ids[i] for i in keep],
        [dialogues[i] for i in keep],
        [references[i] for i in keep],
        dropped=len(ids) - len(keep),
    )
    check_unique_ids(source, split.ids, cfg.id_column)
    return split


def _check_columns(name: str, frame: pd.DataFrame, source: str, cfg, labelled: bool) -> list[str]:
    """The reference columns, once the id, dialogue and (labelled) summary columns are known to be there."""
    needed = [cfg.id_column, cfg.dialogue_column]
    ref_cols = reference_columns(frame, cfg.summary_column)
    missing = [c for c in needed if c not in frame.columns] + (
        [cfg.summary_column] if labelled and not ref_cols else []
    )
    if missing:
        _refuse_spaced_names(source, frame.columns, missing)
        found = ", ".join(map(shown, frame.columns)) or "no columns"
        raise UserError(
            f"{source}: missing column(s) {', '.join(missing)}; it has {found}. "
            f"Rename them or set data.id_column / data.dialogue_column / data.summary_column"
        )
    if len(frame) == 0:
        raise UserError(f"{source}: the {name} split has no rows; fill it or point data.{name}_file elsewhere")
    return ref_cols


def _refuse_spaced_names(source: str, columns, missing: list[str]) -> None:
    """A header written as "fname, dialogue" has the column ' dialogue': name it, rather than say dialogue is missing."""
    spaced = [str(c) for c in columns if str(c) != str(c).strip() and str(c).strip() in missing]
    if spaced:
        names = ", ".join(f"'{shown(c)}'" for c in spaced)
        raise UserError(
            f"{source}: column(s) {names} have spaces around the name; remove the spaces from the header row "
            f"(fname,dialogue,summary), or name the column with its spaces in data.id_column / data.dialogue_column / "
            f"data.summary_column"
        )


def _clean_dialogue(text: str) -> str:
    """One turn per line without the stray trailing spaces some files carry."""
    return "\n".join(line.strip() for line in text.strip().splitlines())


def _head(split: Split, n: int) -> Split:
    return Split(split.name, split.source, split.ids[:n], split.dialogues[:n], split.references[:n], split.dropped)
