"""Load the train/dev/test splits named by the `data` config and check them before anything heavy runs."""

from __future__ import annotations

import logging
import random
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sumexp.data.rows import check_unique_ids, rows_to_keep
from sumexp.data.tables import read_table, reference_columns, reference_lists, shown
from sumexp.errors import UserError

log = logging.getLogger(__name__)


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


@dataclass
class Splits:
    train: Split
    dev: Split
    test: Split | None
    notes: list[str] = field(default_factory=list)  # choices made for the user, also written to metrics


def load_splits(cfg, seed: int) -> Splits:
    """Read the three splits as configured; a missing train file can fall back to part of dev."""
    frames, notes = _read_frames(cfg, seed)
    train = frame_to_split("train", frames["train"], cfg, labelled=True, notes=notes)
    dev = frame_to_split("dev", frames["dev"], cfg, labelled=True, notes=notes)
    test = frame_to_split("test", frames["test"], cfg, labelled=False, notes=notes) if "test" in frames else None
    if cfg.max_train_samples:
        train = _head(train, cfg.max_train_samples)
    if cfg.max_eval_samples:
        dev = _head(dev, cfg.max_eval_samples)
    return Splits(train, dev, test, notes)


def _read_frames(cfg, seed: int) -> tuple[dict[str, tuple[pd.DataFrame, str]], list[str]]:
    if cfg.source == "sample":
        from sumexp.data.sample import make_sample_splits

        return {name: (frame, f"sample:{name}") for name, frame in make_sample_splits().items()}, []
    if cfg.source == "hf":
        return _read_hf(cfg), []
    if cfg.source == "files":
        return _read_files(cfg, seed)
    raise UserError(f"data.source={cfg.source!r} is not a source; use one of: sample, files, hf")


def _read_files(cfg, seed: int):
    if not cfg.dir:
        raise UserError("data.dir is not set; pass the folder that holds the split files, e.g. data.dir=path/to/data")
    folder = Path(cfg.dir).expanduser()
    if not folder.is_dir():
        raise UserError(f"data.dir={cfg.dir}: folder not found; pass an existing folder")
    frames, notes = {}, []
    frames["dev"] = _read_split_file(folder, "dev_file", cfg.dev_file, cfg.encoding)
    train_path = folder / cfg.train_file
    if _kind(train_path) is not None:
        frames["train"] = _read_split_file(folder, "train_file", cfg.train_file, cfg.encoding)
    elif cfg.holdout_when_no_train:
        frames["train"], frames["dev"], note = _hold_out(frames["dev"], cfg.holdout_when_no_train, seed, train_path)
        notes.append(note)
        log.warning(note)
    else:
        raise UserError(
            f"{train_path}: file not found; add it, point data.train_file at another file, "
            f"or set data.holdout_when_no_train=0.2 to train on part of {cfg.dev_file}"
        )
    if cfg.test_file:
        frames["test"] = _read_split_file(folder, "test_file", cfg.test_file, cfg.encoding)
    return frames, notes


def _read_split_file(folder: Path, key: str, name: str, encoding: str) -> tuple[pd.DataFrame, str]:
    path = folder / name
    kind = _kind(path)
    if kind == "folder":
        raise UserError(f"{path}: is a folder, not a file; point data.{key} at a file")
    if kind is None:
        extra = ", or set data.test_file=null to skip the submission" if key == "test_file" else ""
        raise UserError(f"{path}: file not found; add it or point data.{key} at another file{extra}")
    return read_table(path, encoding), str(path)


def _kind(path: Path) -> str | None:
    """ "file", "folder", or None when absent; a folder the user may not enter is a UserError, not a traceback."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise UserError(
            f"{path}: cannot read ({err.strerror}); the folder {path.parent} must be readable by you "
            f"(chmod u+rx {path.parent})"
        ) from None
    return "folder" if stat.S_ISDIR(mode) else "file"


def _hold_out(dev: tuple[pd.DataFrame, str], fraction: float, seed: int, missing: Path):
    """Split dev into a training part and a held-out part, so dev scores never see trained rows."""
    frame, source = dev
    if not 0 < fraction < 1:
        raise UserError(f"data.holdout_when_no_train={fraction}: must be between 0 and 1, e.g. 0.2")
    order = list(range(len(frame)))
    random.Random(seed).shuffle(order)
    n_held = max(1, round(len(frame) * fraction))
    held, trained = sorted(order[:n_held]), sorted(order[n_held:])
    note = (
        f"{missing.name} not found: training on {len(trained)} rows of {source} and scoring dev on the "
        f"other {len(held)} (data.holdout_when_no_train={fraction}, seed {seed})"
    )
    return (
        (frame.iloc[trained].reset_index(drop=True), f"{source} (train part)"),
        (frame.iloc[held].reset_index(drop=True), f"{source} (held-out part)"),
        note,
    )


def _read_hf(cfg):
    if not cfg.hf_name:
        raise UserError("data.hf_name is not set; pass a datasets name or path, e.g. data.hf_name=knkarthick/dialogsum")
    import datasets

    try:
        dataset = datasets.load_dataset(cfg.hf_name, cfg.hf_config)
    except (FileNotFoundError, ConnectionError, ValueError) as err:
        raise UserError(
            f"data.hf_name={cfg.hf_name}: cannot load ({str(err).splitlines()[0]}); check the name and network"
        ) from None
    wanted = {"train": cfg.train_split, "dev": cfg.dev_split, "test": cfg.test_split}
    frames = {}
    for name, split in wanted.items():
        if split is None:
            continue
        if split not in dataset:
            raise UserError(f"data.{name}_split={split}: not in {cfg.hf_name}; its splits are {', '.join(dataset)}")
        frames[name] = (dataset[split].to_pandas(), f"{cfg.hf_name}[{split}]")
    return frames


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
