"""What a run's saved config says: its seed-free fingerprint (seed groups) and its data settings (dialogues)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SEED_KEY = "seed"


def read_config(run_dir: Path) -> dict | None:
    """The run's .hydra/config.yaml as plain data, or None when it has none or it cannot be read."""
    import yaml

    path = Path(run_dir) / ".hydra" / "config.yaml"
    if not path.is_file():
        return None
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return config if isinstance(config, dict) else None


def seedless_key(config: dict | None) -> str | None:
    """A hash of the whole config but its seed: runs that share it differ only in the seed."""
    if config is None:
        return None
    rest = {key: value for key, value in config.items() if key != SEED_KEY}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:12]


# What a run's comparison with its baseline leaves out: the comparison itself (the backend and its settings, the
# seed) and what never changes a result (how it is shown, cached or repeated).
NOT_A_DIFFERENCE = ("backend", SEED_KEY, "hydra", "force", "verbose", "resume", "cache_dir", "keep_checkpoints")


def flat(config: dict | None, prefix: str = "") -> dict:
    """{dotted.key: value} of a saved config (a list or an empty mapping is one value)."""
    out = {}
    for key, value in (config or {}).items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def differing_keys(config: dict | None, baseline: dict | None) -> list[str] | None:
    """`key baseline's → this` for each setting that differs, other than the backend and the seed; None when either
    config is unknown."""
    if config is None or baseline is None:
        return None
    mine, theirs = flat(config), flat(baseline)
    return [
        f"{key} {theirs.get(key)} → {mine.get(key)}"
        for key in sorted(set(mine) | set(theirs))
        if mine.get(key) != theirs.get(key) and not _ignored(key)
    ]


def _ignored(key: str) -> bool:
    return any(key == name or key.startswith(name + ".") for name in NOT_A_DIFFERENCE)
