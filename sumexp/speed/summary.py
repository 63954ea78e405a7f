"""From timed rounds to what is reported: per backend the median step time and trained tokens/s, and against the
baseline the speed ratio with a bootstrap interval.

In turns, one process (`summarize`): the interval is over rounds (rounds, not steps, are the unit that the load
falls on alike: one round times every backend back to back), both backends' times of a round kept together.

Alternating processes (`summarize_processes`): each process times one backend, so the load of its moment falls on
that backend alone, and the ratio must carry the spread of both backends' step times. The interval is a two-level
bootstrap: resample the process rounds (both backends' processes of a round kept together, so a slow stretch of
the machine stays paired), then, within each chosen process, its steps, each backend's apart; the ratio of the
two medians over the resampled steps. The point estimate is the ratio of the medians over all timed steps."""

from __future__ import annotations

import numpy as np

RESAMPLES = 10_000
SEED = 0


def summarize(step_seconds: dict[str, list[float]], tokens_per_step: float, baseline: str) -> dict:
    """`step_seconds`: per backend, the median step time of each round (the same rounds for every backend)."""
    base = np.asarray(step_seconds[baseline], dtype=float)
    out = {}
    for backend, seconds in step_seconds.items():
        times = np.asarray(seconds, dtype=float)
        row = {
            "median_step_s": float(np.median(times)),
            "trained_tokens_per_s": float(tokens_per_step / np.median(times)),
            "round_step_s": [float(t) for t in times],
        }
        if backend != baseline:
            row.update(speed_ratio(base, times))
        out[backend] = row
    return out


def speed_ratio(base: np.ndarray, times: np.ndarray) -> dict:
    """Speed × (the baseline's median step time over this backend's: above 1 is faster) and its 95% percentile
    bootstrap interval, resampling rounds with both backends' times of a round kept together."""
    ratio = float(np.median(base) / np.median(times))
    rng = np.random.default_rng(SEED)
    index = rng.integers(0, len(base), size=(RESAMPLES, len(base)))
    draws = np.median(base[index], axis=1) / np.median(times[index], axis=1)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {"speed_x": ratio, "speed_x_lo": float(lo), "speed_x_hi": float(hi)}


def summarize_processes(step_seconds: dict[str, list[list[float]]], tokens_per_step: float, baseline: str) -> dict:
    """`step_seconds`: per backend, each process round's step seconds (the same rounds and steps for every
    backend)."""
    base = np.asarray(step_seconds[baseline], dtype=float)
    out = {}
    for backend, rounds in step_seconds.items():
        times = np.asarray(rounds, dtype=float)
        median = float(np.median(times))
        row = {
            "median_step_s": median,  # over every timed step of every process
            "trained_tokens_per_s": float(tokens_per_step / median),
            "round_step_s": [float(np.median(r)) for r in times],  # each process's median
            "step_s": times.tolist(),
        }
        if backend != baseline:
            row.update(speed_ratio_processes(base, times))
        out[backend] = row
    return out


def speed_ratio_processes(base: np.ndarray, times: np.ndarray) -> dict:
    """Speed × from processes that each timed one backend (`base`, `times`: process rounds x steps) and its 95%
    percentile interval from the two-level bootstrap of the module's docstring."""
    ratio = float(np.median(base) / np.median(times))
    rng = np.random.default_rng(SEED)
    rounds, steps = base.shape
    chosen = rng.integers(0, rounds, size=(RESAMPLES, rounds, 1))  # the same rounds for both backends

    def resampled(seconds: np.ndarray) -> np.ndarray:
        within = rng.integers(0, steps, size=(RESAMPLES, rounds, steps))  # each backend's steps apart
        return np.median(seconds[chosen, within].reshape(RESAMPLES, -1), axis=1)

    draws = resampled(base) / resampled(times)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {"speed_x": ratio, "speed_x_lo": float(lo), "speed_x_hi": float(hi)}
