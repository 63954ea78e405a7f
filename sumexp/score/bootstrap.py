"""Bootstrap intervals over dev examples: a run's ROUGE mean, and the paired difference of two runs.

Percentile bootstrap (Efron & Tibshirani 1993): draw the dev examples with replacement, take the mean of
each draw, read the 2.5th and 97.5th percentiles. The paired form resamples per-example differences on the
same draw of examples for both runs (Koehn 2004; Berg-Kirkpatrick et al. 2012). docs/statistics.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
METHOD = "percentile"
_CHUNK = 250_000  # indices drawn per batch: bounds memory for large dev sets without changing the draws


def resample_means(values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """The mean of each of `resamples` draws of len(values) examples with replacement (a seeded generator)."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or not len(values):
        raise ValueError("bootstrap needs a non-empty list of per-example values")
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK // len(values))
    means = []
    for start in range(0, resamples, rows):
        index = rng.integers(0, len(values), size=(min(rows, resamples - start), len(values)))
        means.append(values[index].mean(axis=1))
    return np.concatenate(means)


def percentile_interval(
    values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float]:
    """(lo, hi): the percentile bootstrap interval of the mean of `values`."""
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(resample_means(values, resamples, seed), [tail, 100 - tail])
    return float(lo), float(hi)


def paired_difference(
    run: Sequence[float], baseline: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> dict:
    """Mean of run - baseline over the same examples (in the same order), its interval, and whether it excludes 0."""
    run, baseline = np.asarray(run, dtype=float), np.asarray(baseline, dtype=float)
    if run.shape != baseline.shape:
        raise ValueError(f"paired bootstrap needs the same examples: {run.shape} vs {baseline.shape}")
    differences = run - baseline
    lo, hi = percentile_interval(differences, resamples, seed, level)
    return {"delta": float(differences.mean()), "lo": lo, "hi": hi, "significant": bool(lo > 0 or hi < 0)}


def settings(resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """What a recorded interval was computed with, so that it can be reproduced."""
    return {"resamples": resamples, "seed": seed, "method": METHOD}
