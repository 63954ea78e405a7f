"""The dev dialogues the viewer shows beside the summaries, loaded from each run's own data settings.

dev_predictions.csv deliberately holds no dialogue column: it stays small and re-scorable by
`python -m sumexp.score`, and the dialogues already live in the data the run names in its
.hydra/config.yaml. So the report loads that run's dev split (sumexp.data.splits.load_splits),
once per distinct data setting. Where the data cannot be read here (moved files, another machine),
the viewer says so instead of showing a dialogue.
"""

from __future__ import annotations

import json
import logging

from sumexp.errors import UserError, first_line

log = logging.getLogger(__name__)


class DialogueSource:
    """fname -> dialogue for each run's dev split; one load per distinct (data settings, seed)."""

    def __init__(self):
        self._loaded: dict[str, dict[str, str]] = {}
        self.notes: list[str] = []

    def for_run(self, config: dict | None) -> dict[str, str]:
        """The dev dialogues of the run with this saved config ({} when they cannot be loaded)."""
        if not config or not isinstance(config.get("data"), dict):
            return {}
        key = json.dumps([config["data"], config.get("seed")], sort_keys=True, default=str)
        if key not in self._loaded:
            self._loaded[key] = self._load(config["data"], config.get("seed", 0))
        return self._loaded[key]

    def _load(self, data: dict, seed) -> dict[str, str]:
        from omegaconf import OmegaConf

        from sumexp.data.splits import load_splits
        from sumexp.schema import DataConfig

        try:
            cfg = OmegaConf.merge(OmegaConf.structured(DataConfig), data)
            dev = load_splits(cfg, seed).dev
        except (UserError, ValueError, KeyError, OSError) as err:  # omegaconf: ValueError/KeyError
            self.notes.append(f"data {data.get('name', '?')}: dev dialogues not loaded ({first_line(err)})")
            return {}
        return dict(zip(dev.ids, dev.dialogues))
