"""Encoded splits, cached by content so that the next run over the same model and data (a sweep's
other backends, a re-run) skips tokenization. The key covers the texts, the tokenizer, the feature
settings and the code of features.py itself; entries are plain integer arrays (.npz, no pickle)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sumexp.features import IGNORE_INDEX
from sumexp.results.files import replacing

log = logging.getLogger(__name__)

FIELDS = ("train_inputs", "train_labels", "dev_inputs", "dev_labels", "dev_prompts", "test_prompts")


@dataclass
class EncodedSplits:
    train: list[dict]  # input_ids, attention_mask, labels per example
    dev: list[dict]  # the same, for the dev loss
    dev_prompts: list[list[int]]  # what generation sees
    test_prompts: list[list[int]] | None
    seconds: float  # spent encoding or loading
    cache: str  # hit | miss | off


def encode_splits(encoder, splits, cache_dir: str | None) -> EncodedSplits:
    """Encode train, dev and test, or load them from `cache_dir` when the same inputs were seen before."""
    start = time.perf_counter()
    path = _entry(cache_dir, encoder, splits) if cache_dir else None
    arrays = _load(path, _expected_rows(splits), len(encoder.tokenizer)) if path else None
    cache = "off" if path is None else "hit" if arrays else "miss"
    if arrays is None:
        arrays = _encode(encoder, splits)
        if path:
            _save(path, arrays)
    encoded = _as_splits(arrays, cache, time.perf_counter() - start, splits.test is not None)
    log.info("encoded the splits in %.2f s (cache %s)", encoded.seconds, cache)
    return encoded


def _encode(encoder, splits) -> dict[str, list[list[int]]]:
    train = encoder.features(splits.train.dialogues, splits.train.first_references())
    dev = encoder.features(splits.dev.dialogues, splits.dev.first_references())
    return {
        "train_inputs": [e["input_ids"] for e in train],
        "train_labels": [e["labels"] for e in train],
        "dev_inputs": [e["input_ids"] for e in dev],
        "dev_labels": [e["labels"] for e in dev],
        "dev_prompts": encoder.prompts(splits.dev.dialogues),
        "test_prompts": encoder.prompts(splits.test.dialogues) if splits.test else [],
    }


def _as_splits(arrays: dict, cache: str, seconds: float, has_test: bool) -> EncodedSplits:
    def examples(inputs, labels):
        return [
            {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": target}
            for ids, target in zip(inputs, labels)
        ]

    return EncodedSplits(
        train=examples(arrays["train_inputs"], arrays["train_labels"]),
        dev=examples(arrays["dev_inputs"], arrays["dev_labels"]),
        dev_prompts=arrays["dev_prompts"],
        test_prompts=arrays["test_prompts"] if has_test else None,
        seconds=seconds,
        cache=cache,
    )


def _entry(cache_dir: str, encoder, splits) -> Path | None:
    tokenizer = getattr(encoder.tokenizer, "backend_tokenizer", None)
    if tokenizer is None:  # a tokenizer without a serialisable pipeline cannot be keyed safely
        return None
    key = content_key(
        tokenizer.to_str(),
        json.dumps([encoder.tokenizer.chat_template, encoder.tokenizer.all_special_tokens], default=str),
        json.dumps(
            [
                encoder.is_encoder_decoder,
                encoder.source_prefix,
                encoder.prompt_template,
                encoder.use_chat_template,
                encoder.max_source_length,
                encoder.max_target_length,
            ]
        ),
        Path(__file__).with_name("features.py").read_text(encoding="utf-8"),
        json.dumps([_split_content(s) for s in (splits.train, splits.dev, splits.test)], ensure_ascii=False),
    )
    return Path(cache_dir).expanduser() / "encoded" / f"{key}.npz"


def content_key(*parts: str) -> str:
    """A cache entry's name from everything that makes it (sha256 over the parts, each ended by NUL, so no two
    different lists of parts run together into the same text)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _split_content(split) -> list | None:
    return None if split is None else split.content()


def _expected_rows(splits) -> dict[str, int]:
    train, dev, test = (len(s.ids) if s else 0 for s in (splits.train, splits.dev, splits.test))
    return {"train_inputs": train, "train_labels": train, "dev_inputs": dev, "dev_labels": dev} | {
        "dev_prompts": dev,
        "test_prompts": test,
    }


def _load(path: Path, rows: dict[str, int], vocab_size: int) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: (data[f"{name}.values"], data[f"{name}.lengths"]) for name in FIELDS}
    except FileNotFoundError:
        return None
    # A damaged entry (truncated: BadZipFile; empty: EOFError) is rebuilt and overwritten, never trusted.
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("ignoring unreadable cache entry %s (%s: %s); rebuilding it", path, type(err).__name__, err)
        return None
    problem = next(filter(None, (_problem(name, *arrays[name], rows[name], vocab_size) for name in FIELDS)), None)
    if problem:  # it opens, but it is not what this key's encoding makes: a later run must not crash on it
        log.warning("ignoring cache entry %s (%s); rebuilding it", path, problem)
        return None
    return {name: _unflatten(*arrays[name]) for name in FIELDS}


def _problem(name: str, values: np.ndarray, lengths: np.ndarray, rows: int, vocab_size: int) -> str | None:
    """What makes a field unusable: another number of rows, lengths that do not add up, ids outside the
    vocabulary (labels may also hold the ignore index)."""
    if values.ndim != 1 or lengths.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        return f"{name}: not flat integer arrays"
    if len(lengths) != rows:
        return f"{name}: {len(lengths)} rows where the data has {rows}"
    if (lengths < 0).any() or int(lengths.sum()) != len(values):
        return f"{name}: its row lengths do not add up to the {len(values)} ids it holds"
    low = IGNORE_INDEX if name.endswith("_labels") else 0
    outside = (values >= vocab_size) | ((values < 0) & (values != low))
    if outside.any():
        return f"{name}: id {int(values[outside][0])} outside the vocabulary of {vocab_size}"
    return None


def _save(path: Path, arrays: dict) -> None:
    """Written beside the final name and renamed: parallel jobs never read half an entry."""
    flat = {}
    for name in FIELDS:
        flat[f"{name}.values"], flat[f"{name}.lengths"] = _flatten(arrays[name])
    try:  # follows the umask: in a shared cache folder the other users' runs read it too
        with replacing(path) as handle:
            np.savez(handle, **flat)
    except OSError as err:  # a read-only or full disk costs the cache, never the run, and leaves no half entry
        log.warning("could not write the encoding cache at %s (%s)", path, err)


def _flatten(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    values = np.fromiter((t for r in rows for t in r), dtype=np.int64, count=int(lengths.sum()))
    return values, lengths


def _unflatten(values: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    ends = np.cumsum(lengths)
    return [values[end - n : end].tolist() for n, end in zip(lengths.tolist(), ends.tolist())]
