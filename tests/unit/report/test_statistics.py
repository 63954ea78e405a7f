"""The comparison's statistics through python -m sumexp.report: the baseline of the same seed, Δ paired on the
example id, p-values adjusted over the report, what else differs from the baseline, and seed groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sumexp.report import main as report_main
from sumexp.report import write_report
from tests.support.runs import completed, config, dev_predictions, make_run

BASE = np.linspace(20, 40, 40)


def rows_of(table) -> dict:
    return {row["run"]: row for _, row in table.iterrows()}


def pair(root, model, seed, lora_scores, full_scores=BASE, index=0, **lora_extra):
    make_run(
        root,
        f"{index}_{model}_full_s{seed}",
        completed(model, "full", seed=seed),
        config=config(model=model, seed=seed),
        examples=dev_predictions(full_scores),
    )
    make_run(
        root,
        f"{index + 1}_{model}_lora_s{seed}",
        completed(model, "lora", seed=seed, **lora_extra),
        config=config(model=model, backend="lora", seed=seed),
        examples=dev_predictions(lora_scores),
    )


def test_a_missing_same_seed_baseline_gives_no_delta_and_says_why(tmp_path):
    pair(tmp_path, "a", 1, BASE + 2, index=0)
    pair(tmp_path, "a", 2, BASE - 3, index=2)
    (tmp_path / "2_a_full_s2" / "metrics.json").unlink()  # the seed-2 full run failed before it wrote a record
    rows = rows_of(write_report([tmp_path], tmp_path))
    assert rows["1_a_lora_s1"]["baseline"] == "0_a_full_s1" and rows["1_a_lora_s1"]["delta"] == pytest.approx(2)
    lonely = rows["3_a_lora_s2"]
    assert pd.isna(lonely["baseline"]) and pd.isna(lonely["delta"]) and pd.isna(lonely["state_pct"])
    assert lonely["delta_note"] == "no completed backend=full run of a with seed 2 (only with seed 1)"
    text = (tmp_path / "report.md").read_text()
    assert "`3_a_lora_s2`: Δ: no completed backend=full run of a with seed 2" in text
    assert "`1_a_lora_s1`: baseline: `0_a_full_s1`" in text  # each row names the run it was compared with


def test_another_reference_can_be_asked_for_and_an_unknown_key_is_one_line(tmp_path, capsys):
    pair(tmp_path, "a", 1, BASE + 2)
    rows = rows_of(write_report([tmp_path], tmp_path, baseline="backend=lora"))
    assert rows["0_a_full_s1"]["baseline"] == "1_a_lora_s1" and rows["0_a_full_s1"]["delta"] == pytest.approx(-2)
    by_lr = rows_of(write_report([tmp_path], tmp_path, baseline="optim.lr=0.001"))
    assert by_lr["1_a_lora_s1"]["baseline"] in ("0_a_full_s1", "1_a_lora_s1")  # both configs have lr 0.001
    assert report_main([str(tmp_path), "--baseline", "optim.lrr=0.001"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--baseline optim.lrr=0.001: no run's .hydra/config.yaml has optim.lrr" in err[0]


def exact_sign_flip_p(differences) -> float:
    """An independent exact sign-flip test: scipy's permutation test over all 2**n sign patterns."""
    from scipy import stats

    def mean(x, axis=-1):
        return np.mean(x, axis=axis)

    result = stats.permutation_test(
        (np.asarray(differences),), mean, vectorized=True, permutation_type="samples", n_resamples=np.inf
    )
    return float(result.pvalue)


def test_p_values_are_holm_adjusted_over_the_report_and_marks_follow_the_adjusted_ones(tmp_path):
    base = np.linspace(20, 40, 16)
    # One clear Δ and two whose raw p-values (about 0.045 and 0.031) are under 0.05 and whose adjusted ones are not.
    shifts = {
        "a": np.full(16, 3.0),
        "b": np.array([1.0, 3.1, 2.5, 2.4, 4.2, -1.4, -0.3, -1.6, 0.8, 3.0, 1.0, 2.0, -2.8, 1.3, -0.8, 4.6]),
        "c": np.array([1.8, -0.1, 2.2, 1.1, -2.1, 3.0, 0.8, 2.2, 4.7, 1.5, -1.1, -0.4, 3.0, -1.9, 1.5, 1.8]),
    }
    for i, (model, shift) in enumerate(shifts.items()):
        pair(tmp_path, model, 1, base + shift, full_scores=base, index=2 * i)
    rows = rows_of(write_report([tmp_path], tmp_path))
    raw = {m: exact_sign_flip_p(shifts[m]) for m in shifts}
    for i, model in enumerate(shifts):
        assert rows[f"{2 * i + 1}_{model}_lora_s1"]["delta_p"] == pytest.approx(raw[model], rel=1e-9)
    order = sorted(raw, key=raw.get)  # Holm by hand: k-th smallest times (m - k + 1), kept monotone, capped at 1
    adjusted, running = {}, 0.0
    for k, model in enumerate(order):
        running = max(running, min(1.0, (len(order) - k) * raw[model]))
        adjusted[model] = running
    for i, model in enumerate(shifts):
        row = rows[f"{2 * i + 1}_{model}_lora_s1"]
        assert row["delta_p_holm"] == pytest.approx(adjusted[model], rel=1e-9)
        assert bool(row["delta_significant"]) == (adjusted[model] < 0.05)
    assert [m for m in shifts if raw[m] < 0.05 <= adjusted[m]] == ["b", "c"], raw  # what the adjustment is for
    guide = next(p for p in (tmp_path / "report.md").read_text().split("\n\n") if p.startswith("**How to read"))
    assert "Holm-adjusted over the report's 3 comparison(s)" in guide and "n = 16 dev examples" in guide
    assert "below 30 a percentile bootstrap interval is too narrow" in guide


def test_delta_pairs_on_the_example_id_not_the_row_order(tmp_path):
    pair(tmp_path, "a", 1, BASE + np.linspace(0, 4, 40))
    lora = tmp_path / "1_a_lora_s1" / "dev_predictions.csv"
    in_order = rows_of(write_report([tmp_path], tmp_path))["1_a_lora_s1"]
    frame = pd.read_csv(lora, keep_default_na=False)
    frame.sample(frac=1, random_state=0).to_csv(lora, index=False)
    shuffled = rows_of(write_report([tmp_path], tmp_path))["1_a_lora_s1"]
    assert shuffled["delta"] == pytest.approx(in_order["delta"]) and shuffled["delta_n"] == 40
    frame.drop(index=5).to_csv(lora, index=False)  # one dev row lost
    partial = rows_of(write_report([tmp_path], tmp_path))["1_a_lora_s1"]
    kept = np.delete(np.linspace(0, 4, 40), 5)
    assert partial["delta_n"] == 39 and partial["delta"] == pytest.approx(kept.mean())
    assert partial["delta_note"] == "paired on the 39 of 40 dev examples both runs scored"


def test_each_row_names_what_else_differs_from_its_baseline(tmp_path):
    make_run(
        tmp_path, "0_full", completed("a", "full", learning_rate=0.001), config=config(), examples=dev_predictions(BASE)
    )
    make_run(
        tmp_path,
        "1_lora",
        completed("a", "lora", learning_rate=0.01),
        config=config(backend="lora", optim={"lr": 0.01}, generation={"num_beams": 4}),
        examples=dev_predictions(BASE),
    )
    row = rows_of(write_report([tmp_path], tmp_path))["1_lora"]
    assert row["differs"] == "generation.num_beams None → 4; optim.lr 0.001 → 0.01; learning rate 0.001 → 0.01"
    assert "backend" not in row["differs"] and "seed" not in row["differs"]
    assert (
        "differs from it: generation.num_beams None → 4; optim.lr 0.001 → 0.01" in (tmp_path / "report.md").read_text()
    )


def test_runs_of_one_seed_are_replicates_and_two_seeds_are_a_rough_group(tmp_path):
    for i, (seed, shift) in enumerate([(1, 0.0), (1, 2.0), (2, 4.0)]):
        make_run(
            tmp_path,
            f"{i}_lora",
            completed("a", "lora", seed=seed, dev_rouge_mean=30 + shift),
            config=config(backend="lora", seed=seed),
        )
    make_run(tmp_path, "3_t5", completed("t5", "lora", seed=1), config=config(model="t5", backend="lora"))
    make_run(tmp_path, "4_t5", completed("t5", "lora", seed=1), config=config(model="t5", backend="lora"))
    table = write_report([tmp_path], tmp_path)
    assert rows_of(table)["3_t5"]["group"] is None or pd.isna(rows_of(table)["3_t5"]["group"])  # one seed: no group
    text = (tmp_path / "report.md").read_text()
    # seed 1: 30 and 32 are replicates (mean 31); seed 2: 34 -> mean 32.5, sd of (31, 34) = 2.12
    assert "| S1 | a | lora | 1, 2 | 2 (+1 replicate) rough | 32.50 ± 2.12 |" in text
    assert "`rough`: fewer than 3 seeds" in text
