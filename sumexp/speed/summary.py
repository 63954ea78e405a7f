"""From timed rounds to what is reported: per backend the median step time and trained tokens/s, and against the
baseline the speed ratio with a bootstrap interval over rounds (rounds, not steps, are the unit that the load
falls on alike: one round times every backend back to back)."""

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
