"""`python -m tests.support.fault_runner POINT SIGNAL [overrides...]`: the CLI run, stopped by SIGNAL at POINT;
`full_disk_at(n)`: the disk full at the run's nth write, in this process.

Each point wraps one function of the run path so that, on its Nth call, the process signals itself
before or after the real call: a kill that lands exactly in the phase named, every time. SIGKILL
leaves what a power cut or the out-of-memory killer leaves; SIGTERM is what SLURM and `kill` send.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

# point: (module, attribute, which call, before or after the real call)
POINTS = {
    # the first seconds, before the first record: Hydra has saved .hydra/config.yaml (of its three files), or all three
    "hydra_config_saved": ("hydra.core.utils", "_save_config", 1, "after"),
    "hydra_saved": ("hydra.core.utils", "_save_config", 3, "after"),
    "load_data": ("sumexp.task", "load_splits", 1, "after"),
    "load_tokenizer": ("sumexp.models.loading", "load_tokenizer", 1, "after"),
    "encode": ("sumexp.features_cache", "encode_splits", 1, "before"),
    "train_step": ("sumexp.training.trainer", "SummarizationTrainer.training_step", 3, "before"),
    # step 6 of 8: training goes on from the checkpoint of step 4, not from the start
    "train_after_checkpoint": ("sumexp.training.trainer", "SummarizationTrainer.training_step", 6, "before"),
    # in step 4, an evaluation step: the stop comes before its evaluation
    "train_eval_step": ("sumexp.training.trainer", "SummarizationTrainer.training_step", 4, "after"),
    "evaluate": ("sumexp.training.evaluation", "generate_summaries", 2, "before"),  # the 2nd dev evaluation
    "save_checkpoint": ("transformers.trainer", "Trainer._save_optimizer_and_scheduler", 2, "before"),
    "save_model": ("sumexp.task", "_save_best_model", 1, "staging"),
    "predict_test": ("sumexp.task", "generate_summaries", 1, "before"),
    "write_predictions": ("sumexp.results.files", "write_dev_predictions", 1, "after"),
    "write_submission": ("sumexp.results.files", "write_submission", 1, "after"),
    "clean_up": ("shutil", "rmtree", 1, "checkpoints"),  # after metrics.json says completed
    # a second into the first dev evaluation, while it generates: how long does stopping take?
    "evaluating": ("sumexp.training.evaluation", "generate_summaries", 1, "during"),
}
DURING_SECONDS = 1.0


def arm(point: str, signum: int) -> None:
    module_name, attribute, nth, when = POINTS[point]
    owner = importlib.import_module(module_name)
    *classes, name = attribute.split(".")
    for cls in classes:
        owner = getattr(owner, cls)
    original, calls = getattr(owner, name), [0]

    def stop():
        print(f"fault_runner: signalled at {time.time():.3f}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signum)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if when == "checkpoints" and Path(str(args[0])).name != "checkpoints":
            return original(*args, **kwargs)
        calls[0] += 1
        if calls[0] != nth:
            return original(*args, **kwargs)
        if when == "staging":  # the model half saved: its staging folder written, model/ not yet replaced
            model, _tokenizer, run_dir = args
            model.save_pretrained(Path(run_dir) / f".model.{os.getpid()}")
            stop()
        if when in ("before", "checkpoints"):
            stop()
        if when == "during":
            threading.Timer(DURING_SECONDS, stop).start()
        result = original(*args, **kwargs)
        stop()
        return result

    setattr(owner, name, wrapper)


def main() -> None:
    point, signal_name, *overrides = sys.argv[1:]
    import sumexp.app.job  # noqa: F401 - puts sumexp's own saves of .hydra/ in Hydra's place first, so a point wraps them

    arm(point, signal.Signals[signal_name].value)
    sys.argv = ["sumexp", *overrides]
    from sumexp.__main__ import cli

    cli()


if __name__ == "__main__":
    main()


@contextlib.contextmanager
def full_disk_at(nth: int, run_dir: Path) -> Iterator[list[str]]:
    """While open: the nth write into `run_dir` (each file written whole through results/files.py, the model,
    a checkpoint; counted in the order the run makes them) fails with ENOSPC after part of it was written.
    Yields the list of what was written, in order, the failed write marked `FULL`."""
    from unittest import mock

    import transformers
    from transformers.trainer import Trainer

    from sumexp.results import files

    writes: list[str] = []
    replacing, save_pretrained = files.replacing, transformers.PreTrainedModel.save_pretrained
    save_checkpoint = Trainer._save_checkpoint

    def count(what: str) -> bool:
        """Count a write; True when it is the one the disk has no room for."""
        writes.append(what)
        if len(writes) == nth:
            writes[-1] += " FULL"
            return True
        return False

    def no_space(what: str) -> OSError:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), what)

    @contextlib.contextmanager
    def replacing_until_full(path, owner_only=False):
        inside = Path(path).resolve().is_relative_to(run_dir.resolve())
        with replacing(path, owner_only) as handle:
            if inside and count(str(Path(path).relative_to(run_dir))):
                handle.write(b"half a file")
                raise no_space(str(path))
            yield handle

    def save_pretrained_until_full(self, folder, *args, **kwargs):
        if count("model"):
            raise no_space(str(folder))
        return save_pretrained(self, folder, *args, **kwargs)

    def save_checkpoint_until_full(self, *args, **kwargs):
        if count("checkpoint"):
            raise no_space(str(run_dir / "checkpoints"))
        return save_checkpoint(self, *args, **kwargs)

    with (
        mock.patch.object(files, "replacing", replacing_until_full),
        mock.patch.object(transformers.PreTrainedModel, "save_pretrained", save_pretrained_until_full),
        mock.patch.object(Trainer, "_save_checkpoint", save_checkpoint_until_full),
    ):
        yield writes
