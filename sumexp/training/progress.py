"""The terminal during training: one progress bar and one line per dev evaluation."""

from __future__ import annotations

import logging

from transformers import TrainerCallback

from sumexp.score.rouge import BEST_METRIC

log = logging.getLogger("sumexp.training.trainer")  # the logger name the run's log has always used


class ConsoleProgress(TrainerCallback):
    """The terminal during training: one bar (loss and last dev ROUGE mean in its postfix) and one line per
    evaluation. Every Trainer log entry goes to the run's log (sumexp.log; the terminal too with verbose)."""

    def __init__(self):
        self.bar = None
        self.postfix: dict[str, str] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, desc="train", unit="step", dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        log.info(
            "step %d: %s", state.global_step, {k: round(v, 5) if isinstance(v, float) else v for k, v in logs.items()}
        )
        if "loss" in logs:
            self._show(loss=f"{logs['loss']:.3f}")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or not metrics:
            return
        score = metrics.get(f"eval_{BEST_METRIC}")
        if score == float("-inf"):  # abandoned by a stop (stopped_evaluation)
            self._write(f"dev @ step {state.global_step}: not scored, the run is stopping")
            return
        when = "untrained" if state.global_step == 0 else f"epoch {state.epoch:.2f}"
        self._write(
            f"dev @ step {state.global_step} ({when}): loss {metrics.get('eval_loss', float('nan')):.4f}, "
            f"ROUGE mean {score:.2f}"
        )
        self._show(**{"dev ROUGE": f"{score:.2f}"})

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _show(self, **values):
        self.postfix.update(values)
        if self.bar is not None:
            self.bar.set_postfix(self.postfix, refresh=True)

    def _write(self, line: str):
        from tqdm.auto import tqdm

        tqdm.write(line) if self.bar is not None else print(line, flush=True)
