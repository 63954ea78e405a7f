"""Where a run's rows come from: each `data.source` is one reader here, registered in SOURCES.

A reader returns {split name: (frame, where it came from)} for train, dev and (if any) test, plus notes
on choices it made for the user. Every frame then goes through `splits.frame_to_split`, so column
checks, bad rows and placeholders behave alike for every source.
"""

from __future__ import annotations

import logging
import random
import stat
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sumexp.data.tables import read_table
from sumexp.errors import UserError, first_line

log = logging.getLogger(__name__)
Frame = tuple[pd.DataFrame, str]  # the rows, and where they came from (for messages and results)


def read_frames(cfg, seed: int) -> tuple[dict[str, Frame], list[str]]:
    problem = unknown_source(cfg.source)
    if problem:
        raise UserError(problem)
    return SOURCES[cfg.source](cfg, seed)


def unknown_source(name: str) -> str | None:
    """Why `name` is not a data source (naming those that are), or None."""
    if name in SOURCES:
        return None
    return f"data.source={name}: not a data source; use one of {', '.join(SOURCES)}"


def holdout_problem(fraction: float | None) -> str | None:
    """Why data.holdout_when_no_train cannot be used (null turns it off), or None."""
    if fraction is None or 0 < fraction < 1:
        return None
    return f"data.holdout_when_no_train={fraction}: must be between 0 and 1 (a fraction of the dev file), e.g. 0.2, or null"


def _read_sample(cfg, seed: int) -> tuple[dict[str, Frame], list[str]]:
    from sumexp.data.sample import make_sample_splits

    return {name: (frame, f"sample:{name}") for name, frame in make_sample_splits().items()}, []


def _read_files(cfg, seed: int) -> tuple[dict[str, Frame], list[str]]:
    if not cfg.dir:
        raise UserError("data.dir is not set; pass the folder that holds the split files, e.g. data.dir=path/to/data")
    folder = Path(cfg.dir).expanduser()
    if not folder.is_dir():
        raise UserError(f"data.dir={cfg.dir}: folder not found; pass an existing folder")
    frames, notes = {}, []
    frames["dev"] = _read_split_file(folder, "dev_file", cfg.dev_file, cfg.encoding, cfg.max_file_mb)
    train_path = folder / cfg.train_file
    if _kind(train_path) is not None:
        frames["train"] = _read_split_file(folder, "train_file", cfg.train_file, cfg.encoding, cfg.max_file_mb)
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
        frames["test"] = _read_split_file(folder, "test_file", cfg.test_file, cfg.encoding, cfg.max_file_mb)
    return frames, notes


def _read_split_file(folder: Path, key: str, name: str, encoding: str, max_mb: float) -> tuple[pd.DataFrame, str]:
    path = folder / name
    kind = _kind(path)
    if kind == "folder":
        raise UserError(f"{path}: is a folder, not a file; point data.{key} at a file")
    if kind is None:
        extra = ", or set data.test_file=null to skip the submission" if key == "test_file" else ""
        raise UserError(f"{path}: file not found; add it or point data.{key} at another file{extra}")
    return read_table(path, encoding, max_mb), str(path)


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
    problem = holdout_problem(fraction)
    if problem:
        raise UserError(problem)
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


def _read_hf(cfg, seed: int) -> tuple[dict[str, Frame], list[str]]:
    if not cfg.hf_name:
        raise UserError("data.hf_name is not set; pass a datasets name or path, e.g. data.hf_name=knkarthick/dialogsum")
    folder = Path(str(cfg.hf_name)).expanduser()
    scripts = sorted(p.name for p in folder.glob("*.py")) if folder.is_dir() else []
    if scripts:  # a loading script: code from the dataset, which datasets no longer runs (a RuntimeError)
        raise UserError(
            f"data.hf_name={cfg.hf_name}: the folder holds a loading script ({scripts[0]}), and code that comes with "
            f"data is not run; save the splits as CSV or JSONL files and use data=csv data.dir=... (or data=jsonl)"
        )
    import datasets

    try:
        dataset = datasets.load_dataset(cfg.hf_name, cfg.hf_config)
    except (FileNotFoundError, ConnectionError, ValueError, RuntimeError) as err:
        raise UserError(
            f"data.hf_name={cfg.hf_name}: cannot load ({first_line(err)}); check the name and network"
        ) from None
    wanted = {"train": cfg.train_split, "dev": cfg.dev_split, "test": cfg.test_split}
    frames = {}
    for name, split in wanted.items():
        if split is None:
            continue
        if split not in dataset:
            raise UserError(f"data.{name}_split={split}: not in {cfg.hf_name}; its splits are {', '.join(dataset)}")
        frames[name] = (dataset[split].to_pandas(), f"{cfg.hf_name}[{split}]")
    return frames, []


SOURCES: dict[str, Callable[..., tuple[dict[str, Frame], list[str]]]] = {
    "sample": _read_sample,  # the Korean dialogues shipped with sumexp (sumexp/data/sample.py)
    "files": _read_files,  # CSV/TSV/JSONL files in data.dir
    "hf": _read_hf,  # a datasets name or path (data.hf_name)
}
