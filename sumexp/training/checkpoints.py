"""Where a resumed run continues: the newest checkpoint that was written completely and reads back."""

from __future__ import annotations

import json
import logging
import re
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

_STEP = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_step(path: Path) -> int:
    return int(_STEP.match(Path(path).name).group(1))


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The highest-step checkpoint whose files all read back. A run killed while saving leaves a newer
    folder without trainer_state.json (the Trainer writes it last); a full disk or a copy cut short leaves
    truncated files. Resuming from either would fail, so the one before is taken, with a warning."""
    if not folder.is_dir():
        return None
    steps = {int(m.group(1)): path for path in folder.iterdir() if (m := _STEP.match(path.name)) and path.is_dir()}
    for step in sorted(steps, reverse=True):
        problem = checkpoint_problem(steps[step])
        if problem is None:
            return steps[step]
        log.warning("%s is not a complete checkpoint (%s); skipped", steps[step], problem)
    return None


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint at `path` cannot be resumed from, or None when every file reads back.

    Cheap checks only: a whole file is never read (an optimizer state can be many GB). JSON parses,
    a safetensors header's offsets fit in the file, a torch zip archive has its central directory.
    """
    state = path / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json: it was being written"
    for file in sorted(path.iterdir()):
        problem = _file_problem(file)
        if problem:
            return f"{file.name}: {problem}"
    return None


def _file_problem(file: Path) -> str | None:
    try:
        if file.suffix == ".json":
            json.loads(file.read_text(encoding="utf-8"))
        elif file.suffix == ".safetensors":
            return _safetensors_problem(file)
        elif file.suffix in (".pt", ".pth", ".bin") and not zipfile.is_zipfile(file) and not _legacy_pickle(file):
            return "not a whole torch archive (truncated?)"  # torch.save writes a zip: cut short, it has no directory
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"unreadable ({type(err).__name__})"
    return None


def _safetensors_problem(file: Path) -> str | None:
    """The header names byte ranges; a file shorter than the last range was cut short."""
    with open(file, "rb") as handle:
        size_bytes = handle.read(8)
        if len(size_bytes) < 8:
            return "truncated (no header)"
        header_size = int.from_bytes(size_bytes, "little")
        header = json.loads(handle.read(header_size))
    end = max((entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"), default=0)
    if file.stat().st_size < 8 + header_size + end:
        return f"truncated ({file.stat().st_size} bytes, the header needs {8 + header_size + end})"
    return None


def _legacy_pickle(file: Path) -> bool:
    """torch's pre-zip format starts with a pickle protocol byte; anything else is not a torch file."""
    with open(file, "rb") as handle:
        return handle.read(1) == b"\x80"


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


def owes_evaluation(checkpoint: Path, args) -> bool:
    """Whether a stop saved `checkpoint` at a step whose dev evaluation was due and never ran: a resume
    from it scores that step first, as the uninterrupted run did before going on."""
    if str(getattr(args.eval_strategy, "value", args.eval_strategy)) == "no":
        return False
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    step, epoch = state.get("global_step", 0), state.get("epoch") or 0.0
    if any(
        entry.get("step") == step and any(key.startswith("eval_") for key in entry) for entry in state["log_history"]
    ):
        return False
    if str(getattr(args.eval_strategy, "value", args.eval_strategy)) == "epoch":
        return step > 0 and abs(epoch - round(epoch)) < 1e-6
    eval_steps = state.get("eval_steps") or 0
    return step > 0 and ((eval_steps and step % eval_steps == 0) or step >= state.get("max_steps", step + 1))
