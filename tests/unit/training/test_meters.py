"""StepTimer: the seconds of each optimizer step and their spread, on a fake clock."""

from __future__ import annotations

import pytest

from sumexp.training.meters import StepTimer


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_step_is_timed_and_its_spread_recorded_apart_from_the_time_between_steps():
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    assert timer.spread() == {
        "train_step_seconds_median": None,  # resumed at its end: no step taken in this process
        "train_step_seconds_p10": None,
        "train_step_seconds_p90": None,
        "train_steps_timed": 0,
    }
    timer.on_step_end(None, None, None)  # an end without a begin (resumed mid-step) times nothing
    for seconds in (1.0, 2.0, 3.0, 4.0, 10.0):
        timer.on_step_begin(None, None, None)
        clock.now += seconds
        timer.on_step_end(None, None, None)
        clock.now += 100.0  # an evaluation or a save between steps does not count
    timer.on_step_end(None, None, None)  # a second end of the same step counts once
    assert timer.step_seconds == [1.0, 2.0, 3.0, 4.0, 10.0] and timer.seconds == 20.0
    assert timer.spread() == {
        "train_step_seconds_median": 3.0,
        "train_step_seconds_p10": pytest.approx(1.4),  # linear between the 1st and 2nd of five
        "train_step_seconds_p90": pytest.approx(7.6),
        "train_steps_timed": 5,
    }


def test_the_memory_training_steps_add_shows_after_earlier_work_freed_more_in_the_same_process(monkeypatch):
    """A base pretrained in the run's own process leaves freed heap behind; steps that reuse it seemed to add
    1 MiB where the same steps in a fresh process added 80. The heap is handed back before the baseline is read."""
    from sumexp.results import memory
    from sumexp.training.meters import TrainingMeasurements

    monkeypatch.setattr(memory.CUDA, "available", lambda: False)
    chunk = 64 * 1024  # below glibc's mmap threshold: these come from the heap, and stay there when freed
    earlier = [bytearray(chunk) for _ in range(3200)]  # 200 MiB of earlier work
    pin = bytearray(chunk)  # allocated after it: the freed region is not at the heap's top, so free() keeps it
    del earlier
    meter = TrainingMeasurements()
    meter.on_step_begin(None, None, None)
    step = [bytearray(chunk) for _ in range(1600)]  # the step's own 100 MiB
    meter.on_step_end(None, None, None)
    assert meter.rss_added_mb > 80, meter.rss_added_mb
    del step, pin
