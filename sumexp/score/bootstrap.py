"""Bootstrap intervals over dev examples: a run's ROUGE mean, and the paired difference of two runs.

Percentile bootstrap (Efron & Tibshirani 1993): draw the dev examples with replacement, take the mean of
each draw, read the 2.5th and 97.5th percentiles. The paired form resamples per-example differences on the
same draw of examples for both runs (Koehn 2004; Berg-Kirkpatrick et al. 2012). docs/statistics.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 1000  # a run's own interval, recorded with the run
DELTA_RESAMPLES = 10_000  # a report's Δ intervals: its endpoints move by about 0.01 point between seeds
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


# Sign flips for a Δ's p-value: every one of the 2**n when that is at most EXACT_FLIPS (n <= 16), else this many
# drawn at random. 20,000 puts the p-value within about ±0.003 of the exact one at p = 0.05, so a mark read at
# 0.05 does not turn with the resampling seed except at that distance from the line.
FLIPS = 20_000
EXACT_FLIPS = 2**16
SMALL_N = 30  # below this many examples a percentile interval is too narrow (it ignores the t distribution's tails)


def sign_flip_p_value(differences: Sequence[float], flips: int = FLIPS, seed: int = SEED) -> float:
    """Two-sided p-value of a paired mean difference of 0, by the sign-flip permutation test: under the null,
    each example's difference is as likely to have either sign. Exact (all 2**n flips) for n <= 16."""
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or not len(d):
        raise ValueError("a sign-flip test needs a non-empty list of differences")
    observed = abs(d.mean())
    if 2 ** len(d) <= EXACT_FLIPS:
        signs = 1 - 2 * ((np.arange(2 ** len(d))[:, None] >> np.arange(len(d))) & 1)
        return float(np.mean(np.abs(signs @ d) / len(d) >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    rows, extreme = max(1, _CHUNK // len(d)), 0
    for start in range(0, flips, rows):
        signs = rng.choice((-1.0, 1.0), size=(min(rows, flips - start), len(d)))
        extreme += int(np.sum(np.abs(signs @ d) / len(d) >= observed - 1e-12))
    return (extreme + 1) / (flips + 1)  # the observed arrangement counts once (Phipson & Smyth 2010)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment (1979): controls the chance of any false mark over all the comparisons."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def settings(resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """What a recorded interval was computed with, so that it can be reproduced."""
    return {"resamples": resamples, "seed": seed, "method": METHOD}
