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
