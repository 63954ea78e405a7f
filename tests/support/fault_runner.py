"""`python -m tests.support.fault_runner POINT SIGNAL [overrides...]`: the CLI run, stopped by SIGNAL at POINT.

Each point wraps one function of the run path so that, on its Nth call, the process signals itself
before or after the real call: a kill that lands exactly in the phase named, every time. SIGKILL
leaves what a power cut or the out-of-memory killer leaves; SIGTERM is what SLURM and `kill` send.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

# point: (module, attribute, which call, before or after the real call)
POINTS = {
    "load_data": ("sumexp.task", "load_splits", 1, "after"),
    "load_tokenizer": ("sumexp.models.loading", "load_tokenizer", 1, "after"),
    "encode": ("sumexp.features_cache", "encode_splits", 1, "before"),
    "train_step": ("sumexp.training.trainer", "SummarizationTrainer.training_step", 3, "before"),
    # step 6 of 8: training goes on from the checkpoint of step 4, not from the start
    "train_after_checkpoint": ("sumexp.training.trainer", "SummarizationTrainer.training_step", 6, "before"),
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
    arm(point, signal.Signals[signal_name].value)
    sys.argv = ["sumexp", *overrides]
    from sumexp.__main__ import cli

    cli()


if __name__ == "__main__":
    main()
