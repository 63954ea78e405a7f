"""The config a folder's checkpoints were trained with, so that a resume cannot continue them with another.

A resumed run restores the optimizer, the scheduler and the RNG states of its checkpoint: with another
learning rate or model it would silently train the old schedule (or fail in the optimizer) while
recording the new config. The checkpoints folder keeps the config that started it, and a hash of the
train and dev rows it read (an edited train.csv changes no config key); a resume compares both.
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

SNAPSHOT = "run_config.json"  # in checkpoints/, beside the checkpoint-N folders
DATA_SNAPSHOT = "run_data.json"  # {split: its source and content hash}, for the splits training reads
TRAINED_ON = ("train", "dev")  # dev too: it picks the best checkpoint and stops training early
# What a resumed run may change: how it is shown, cached or kept, and how summaries are generated
# (generation settings change the dev summaries, never the weights already trained).
MAY_CHANGE = (
    "hydra",
    "force",
    "verbose",
    "resume",
    "cache_dir",
    "keep_checkpoints",
    "report_to",
    "generation",
    "optim.eval_batch_size",
)


def flat_config(cfg) -> dict:
    """The resolved config as {dotted.key: value}, secrets removed."""
    from sumexp.security.secrets import redact_tree

    data = {
        key: OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key]
        for key in cfg
        if key != "hydra"
    }
    return dict(_flatten(redact_tree(data)))


def write_snapshot(checkpoints: Path, cfg, splits) -> None:
    from sumexp.results.files import write_json

    write_json(Path(checkpoints) / SNAPSHOT, flat_config(cfg))
    write_json(Path(checkpoints) / DATA_SNAPSHOT, data_snapshot(splits))


def data_snapshot(splits) -> dict:
    return {
        name: {"source": getattr(splits, name).source, "sha256": getattr(splits, name).fingerprint()}
        for name in TRAINED_ON
    }


def changed_data(checkpoints: Path, splits) -> list[str] | None:
    """The sources of the splits whose rows differ from those the checkpoints were trained on (None: no record)."""
    try:
        before = json.loads((Path(checkpoints) / DATA_SNAPSHOT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    now = data_snapshot(splits)
    return [now[name]["source"] for name in TRAINED_ON if before.get(name, {}).get("sha256") != now[name]["sha256"]]


def changed_keys(checkpoints: Path, cfg) -> list[str] | None:
    """`key: old -> new` for each value that differs from the config the checkpoints were trained with
    (None: no record of it)."""
    try:
        before = json.loads((Path(checkpoints) / SNAPSHOT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    now = json.loads(json.dumps(flat_config(cfg), default=str))  # the same JSON round trip as the snapshot
    keys = sorted(set(before) | set(now))
    return [
        f"{key}: {before.get(key)} -> {now.get(key)}"
        for key in keys
        if before.get(key) != now.get(key) and not _may_change(key)
    ]


def _may_change(key: str) -> bool:
    return any(key == prefix or key.startswith(prefix + ".") for prefix in MAY_CHANGE)


def _flatten(node, prefix: str = ""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _flatten(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], node
