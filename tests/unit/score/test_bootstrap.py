"""sumexp.score.bootstrap against independent computations: a hand-written resampling loop and scipy."""

from __future__ import annotations

import numpy as np
import pytest

from sumexp.score import bootstrap

VALUES = np.random.default_rng(7).uniform(0, 100, size=200)  # known per-example scores


def loop_interval(values, resamples=1000, seed=0):
    """The percentile bootstrap written out: one draw of len(values) indices per resample, from the same generator."""
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(resamples):
        index = rng.integers(0, len(values), size=len(values))
        means.append(sum(values[i] for i in index) / len(values))
    return tuple(np.percentile(means, [2.5, 97.5]))


def test_interval_equals_a_hand_written_loop_with_the_same_seed():
    assert bootstrap.percentile_interval(VALUES) == pytest.approx(loop_interval(VALUES), abs=1e-9)
    assert bootstrap.percentile_interval(VALUES, seed=3) == pytest.approx(loop_interval(VALUES, seed=3), abs=1e-9)
    assert bootstrap.percentile_interval(VALUES, seed=3) != bootstrap.percentile_interval(VALUES)


def test_batched_draws_are_the_same_as_one_draw_per_resample(monkeypatch):
    """Large dev sets are drawn in batches; the interval must not depend on the batch size."""
    whole = bootstrap.percentile_interval(VALUES)
    monkeypatch.setattr(bootstrap, "_CHUNK", 3 * len(VALUES) + 1)  # 3 resamples per batch, a short last one
    assert bootstrap.percentile_interval(VALUES) == pytest.approx(whole, abs=1e-12)


def test_interval_agrees_with_scipy_within_resampling_error():
    from scipy.stats import bootstrap as scipy_bootstrap

    ours = bootstrap.percentile_interval(VALUES)
    theirs = scipy_bootstrap(
        (VALUES,),
        np.mean,
        n_resamples=1000,
        method="percentile",
        confidence_level=0.95,
        random_state=np.random.default_rng(1),
    ).confidence_interval
    width = ours[1] - ours[0]
    assert ours[0] == pytest.approx(theirs.low, abs=0.1 * width) and ours[1] == pytest.approx(
        theirs.high, abs=0.1 * width
    )
    # and both near the normal approximation: mean ± 1.96 standard errors
    se = VALUES.std(ddof=1) / np.sqrt(len(VALUES))
    assert width == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_paired_difference_resamples_the_differences_of_the_same_examples():
    run = VALUES + np.random.default_rng(8).normal(2.0, 5.0, size=len(VALUES))
    paired = bootstrap.paired_difference(run, VALUES)
    assert paired["delta"] == pytest.approx(float(np.mean(run - VALUES)), abs=1e-12)
    assert (paired["lo"], paired["hi"]) == pytest.approx(loop_interval(run - VALUES), abs=1e-9)
    assert paired["significant"] == (paired["lo"] > 0 or paired["hi"] < 0)
    assert paired["significant"]  # +2 on average with sd 5 over 200 examples: the interval is well above 0


def test_a_difference_whose_interval_holds_zero_is_not_significant():
    alternating = np.tile([4.0, -4.0], 50)
    paired = bootstrap.paired_difference(VALUES[:100] + alternating, VALUES[:100])
    assert paired["delta"] == pytest.approx(0.0, abs=1e-12) and paired["lo"] < 0 < paired["hi"]
    assert not paired["significant"]


def test_pairing_needs_the_same_examples():
    with pytest.raises(ValueError, match="same examples"):
        bootstrap.paired_difference(VALUES[:10], VALUES[:11])
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap.percentile_interval([])


def test_the_recorded_settings_reproduce_the_interval():
    assert bootstrap.settings() == {"resamples": 1000, "seed": 0, "method": "percentile"}
    assert bootstrap.percentile_interval(VALUES) == pytest.approx(loop_interval(VALUES, 1000, 0), abs=1e-9)


def test_a_sign_flip_p_value_does_not_turn_with_the_resampling_seed():
    """Above 16 examples the flips are drawn at random: 20,000 of them keep the p-value of a borderline Δ within a few
    thousandths across seeds, so a mark read at 0.05 does not depend on the seed."""
    noise = np.random.default_rng(7).normal(0, 1.5, 40)
    differences = noise - noise.mean() + 0.48  # a mean about two standard errors from 0: p near 0.05
    p_values = [bootstrap.sign_flip_p_value(differences, seed=seed) for seed in range(8)]
    assert 0.01 < np.mean(p_values) < 0.1 and max(p_values) - min(p_values) < 0.01, p_values


def test_holm_matches_its_definition():
    assert bootstrap.holm([0.01, 0.04, 0.03, 0.2]).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert bootstrap.holm([0.5, 0.6]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1
