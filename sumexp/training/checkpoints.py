"""Where a resumed run continues: the newest checkpoint that was written completely."""
from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

_STEP = re.compile(r"^checkpoint-(\d+)$")


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The highest-step checkpoint holding trainer_state.json, which the Trainer writes last: a run
    killed while saving leaves a newer folder without it, and resuming from that one would fail."""
    if not folder.is_dir():
        return None
    steps = {int(m.group(1)): path for path in folder.iterdir() if (m := _STEP.match(path.name)) and path.is_dir()}
    for step in sorted(steps, reverse=True):
        if (steps[step] / "trainer_state.json").is_file():
            return steps[step]
        log.warning("%s is incomplete (the run stopped while saving it); skipped", steps[step])
    return None


def resume_checkpoint(resume: bool, folder: Path) -> str | None:
    """The checkpoint to continue from when `resume` is set, or None to start from step 0."""
    if not resume:
        return None
    checkpoint = last_complete_checkpoint(folder)
    if checkpoint is None:
        log.warning("resume=true, but %s holds no complete checkpoint: training from the start", folder)
        return None
    log.info("resuming from %s", checkpoint)
    return str(checkpoint)
