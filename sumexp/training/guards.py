"""Callbacks that protect a long run: stop on a non-finite loss, save and stop on SIGTERM or Ctrl-C,
space out checkpoints that are only there to resume from, and log the training loss at every
checkpoint so a resumed run can account for every step."""

from __future__ import annotations

import math
import signal
import time
from typing import TYPE_CHECKING

from transformers import TrainerCallback

from sumexp.errors import TrainingDiverged

if TYPE_CHECKING:
    from sumexp.errors import OutOfMemory

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # SLURM sends SIGTERM before pre-emption


class StopOnNonFiniteLoss(TrainerCallback):
    """A NaN or inf training loss stops the run at the next log (optim.logging_steps) with its likely cause."""

    def __init__(self, likely_cause: str):
        self.likely_cause = likely_cause

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, float) and not math.isfinite(value):
                raise TrainingDiverged(
                    f"the training {key.replace('_', ' ')} became {value} by step {state.global_step}: "
                    f"{self.likely_cause}"
                )


class SpaceOutCheckpoints(TrainerCallback):
    """Skip a scheduled checkpoint when the last one (or the start) is less than `seconds` old.

    Only for checkpoints that exist to resume from (dev evaluation off): a tiny epoch would otherwise
    spend a good share of its time writing the model, optimizer and RNG states. A kill -9 then loses
    at most `seconds` of training; SIGTERM and Ctrl-C still save where they stop (InterruptOnSignal
    runs after this callback). The checkpoint at the end of training is always kept: without it a kill
    while the test split is generated would cost the whole training.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._last = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        at_the_end = state.max_steps > 0 and state.global_step >= state.max_steps
        if control.should_save and not at_the_end and time.monotonic() - self._last < self.seconds:
            control.should_save = False
        return control

    on_epoch_end = on_step_end

    def on_save(self, args, state, control, **kwargs):
        self._last = time.monotonic()


class InterruptOnSignal(TrainerCallback):
    """On SIGTERM or SIGINT: stop training at once and save, never evaluate first.

    A scheduler gives a few seconds after its signal, and a dev evaluation can take minutes: one in
    progress is abandoned (DevEvaluator asks `stop_requested` before every batch) and one that is due is
    skipped. A checkpoint is saved where training stopped, an evaluation step included: a resume from it
    scores that step first (checkpoints.owes_evaluation), so it matches an uninterrupted run. After an
    abandoned evaluation nothing is saved (the Trainer saves after the evaluation, which no longer returns
    to it), and the previous checkpoint stays the one to resume from.
    A second Ctrl-C while that happens interrupts at once, as usual; a second SIGTERM is ignored.
    """

    def __init__(self):
        self.signal_name: str | None = None
        self._previous = {}
        self._settled = False  # whether the stop's checkpoint has been decided

    def on_train_begin(self, args, state, control, **kwargs):
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._note)

    def on_train_end(self, args, state, control, **kwargs):
        self.restore()

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _note(self, signum, frame):
        self.signal_name = signal.Signals(signum).name
        self.restore()
        # A second Ctrl-C stops at once, as usual. A second SIGTERM is the same stop delivered twice (SLURM
        # signals every process of a job, and a sweep forwards the stop to its jobs too): ignored, so the
        # checkpoint is still saved; SLURM's SIGKILL after its grace period remains the hard stop.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def stop_requested(self) -> bool:
        return self.signal_name is not None

    def evaluation_stopped(self, control) -> None:
        """The evaluation in progress was abandoned: stop, with no checkpoint of its unscored step."""
        self._stop(control, save=False)

    def on_step_end(self, args, state, control, **kwargs):
        if self.signal_name:
            self._stop(control, save=not self._settled)
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.signal_name:
            self._stop(control, save=not self._settled)
        return control

    def _stop(self, control, save: bool) -> None:
        control.should_save = save
        control.should_evaluate = False
        control.should_training_stop = True
        self._settled = True


class LogAtEverySave(TrainerCallback):
    """Log the loss at each checkpoint, so that the logged windows cover every step up to it: a
    resumed run's mean training loss then counts the steps trained before the interruption. Log at
    the last step too, so that the windows cover the whole run when no checkpoint ends it."""

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_save or control.should_training_stop:
            control.should_log = True
        return control

    on_epoch_end = on_step_end


def likely_cause(precision: str, learning_rate: float, family_rate: float) -> str:
    """What most often makes the loss of a fine-tuning run blow up, given its settings."""
    if precision == "fp16":
        return "fp16 overflows in some models (the T5 family always): use optim.precision=bf16 or fp32"
    if learning_rate > 10 * family_rate:
        return (
            f"optim.lr={learning_rate:g} is far above this model's usual {family_rate:g}: lower optim.lr "
            f"(or optim.max_grad_norm)"
        )
    return "lower optim.lr, raise optim.warmup, or train in fp32 (optim.precision=fp32)"


def out_of_memory(optim) -> OutOfMemory:
    """The one-line error for an accelerator out of memory, with the remedies in order of cost."""
    from sumexp.errors import OutOfMemory

    return OutOfMemory(
        f"out of accelerator memory at optim.batch_size={optim.batch_size}: use a smaller optim.batch_size with a "
        f"larger optim.grad_accum (same effective batch), optim.gradient_checkpointing=true, backend=qlora, or "
        f"optim.auto_find_batch_size=true to halve the batch until it fits"
    )


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA's out-of-memory error, or accelerate's when even a batch of one did not fit."""
    import torch

    return isinstance(err, torch.cuda.OutOfMemoryError) or "No executable batch size found" in str(err)
