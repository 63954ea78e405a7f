"""What training used, measured where it happens: the model state after the first optimizer step, the
training memory peak apart from loading, evaluation and generation, and the machine's load."""

from __future__ import annotations

import os
import time

from transformers import TrainerCallback

from sumexp.results import memory


class TrainingMeasurements(TrainerCallback):
    """Model-state bytes after the first optimizer step; on a GPU the CUDA peak over the training steps
    (reset at each step, so evaluations in between do not count); on a CPU the RSS the training steps
    added before the first evaluation after training began (the scorer, Kiwi, loads at an evaluation and
    stays); the 1-minute load average sampled at every step."""

    def __init__(self):
        self.model_state: dict[str, int] | None = None
        self.train_peak_mb: float | None = None  # GPU
        self.rss_added_mb: float | None = None  # CPU
        self.load_samples: list[float] = []
        self._rss_before: float | None = None
        self._rss_open = True  # until an evaluation after training began
        self._rss_reader = memory.resident_peak_mb
        self._cuda = memory.CUDA.available()

    def on_step_begin(self, args, state, control, **kwargs):
        if self._cuda:
            memory.CUDA.start_span()
        elif self._rss_before is None:
            memory.release_free_heap()  # what earlier work (a base pretrained here) freed must not hide the steps' own
            self._rss_before = memory.resident_mb()
            # The peak since here; where it cannot be reset (no clear_refs), the RSS sampled at step ends.
            self._rss_reader = memory.resident_peak_mb if memory.reset_resident_peak() else memory.resident_mb

    def on_step_end(self, args, state, control, model=None, optimizer=None, **kwargs):
        if self.model_state is None and model is not None and optimizer is not None:
            self.model_state = memory.model_state_bytes(model, optimizer)
        if self._cuda:
            self.train_peak_mb = max(self.train_peak_mb or 0.0, memory.CUDA.span_peak_mb())
        elif self._rss_open and self._rss_before is not None:
            now = self._rss_reader()
            if now is not None:
                self.rss_added_mb = max(self.rss_added_mb or 0.0, now - self._rss_before)
        self.load_samples.append(os.getloadavg()[0])

    def on_evaluate(self, args, state, control, **kwargs):
        if self._rss_before is not None:  # not eval_on_start's, which comes before the first step
            self._rss_open = False

    def as_metrics(self, model, optimizer) -> dict:
        """The metrics.json fields; a session with no optimizer step (resumed at its end) counts at the end."""
        state = self.model_state or memory.model_state_bytes(model, optimizer)
        return {
            **state,
            "memory_train_peak_mb": self.train_peak_mb,
            "memory_train_rss_added_mb": None if self._cuda else self.rss_added_mb,
            "train_load_average": sum(self.load_samples) / len(self.load_samples) if self.load_samples else None,
        }


class StepTimer(TrainerCallback):
    """Seconds spent in optimizer steps only, so throughput excludes evaluation and saving; each step's
    seconds are kept too, for their spread. Only the steps of this process: a resumed run times the steps
    it took after resuming."""

    def __init__(self, clock=time.perf_counter):
        self.step_seconds: list[float] = []
        self._clock = clock
        self._start = None

    @property
    def seconds(self) -> float:
        return sum(self.step_seconds)

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = self._clock()

    def on_step_end(self, args, state, control, **kwargs):
        if self._start is not None:
            self.step_seconds.append(self._clock() - self._start)
            self._start = None

    def spread(self) -> dict:
        """The metrics.json fields: the median and the 10th and 90th percentiles of the step seconds (linear
        interpolation between steps), and how many steps were timed; None with no step timed."""
        import numpy as np

        times = np.asarray(self.step_seconds, dtype=float)
        median, p10, p90 = (float(v) for v in np.percentile(times, [50, 10, 90])) if len(times) else (None,) * 3
        return {
            "train_step_seconds_median": median,
            "train_step_seconds_p10": p10,
            "train_step_seconds_p90": p90,
            "train_steps_timed": len(times),
        }
