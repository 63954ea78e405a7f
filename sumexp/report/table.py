"""The comparison table: one row per run, each against the baseline run of the same model."""

from __future__ import annotations

import pandas as pd

from sumexp.report import compare
from sumexp.report.groups import label_groups
from sumexp.run import record as run_record

# (column, metrics.json key): what the report keeps of each run as it is recorded.
FIELDS = [
    ("run", "run"),
    ("model", "model"),
    ("family", "family"),
    ("device", "device"),
    ("backend_requested", "backend_requested"),
    ("backend_effective", "backend_effective"),
    ("backend_note", "backend_note"),
    ("base_model", "base_model"),  # what training started from: a checkpoint, random weights, or pretrained here
    ("seed", "seed"),
    ("status", "status"),
    ("error", "error"),
    ("attempts", "attempts"),  # SLURM: how many times the job ran (requeued after pre-emption or its time limit)
    ("rouge1", "dev_rouge1"),
    ("rouge2", "dev_rouge2"),
    ("rougeL", "dev_rougeL"),
    ("rouge_mean", "dev_rouge_mean"),
    ("tokens_per_s", "train_trained_tokens_per_second"),
    ("train_time_s", "train_runtime_s"),
    ("train_load_average", "train_load_average"),
    ("cpu_count", "cpu_count"),
    ("params_trainable", "params_trainable"),
    ("params_total", "params_total"),
    ("trainable_share", "params_trainable_ratio"),
    ("run_dir", "run_dir"),
]
# The columns that hold numbers: a record edited by hand or by another tool may hold anything there.
NUMERIC = {
    "seed",
    "attempts",
    "rouge1",
    "rouge2",
    "rougeL",
    "rouge_mean",
    "tokens_per_s",
    "train_time_s",
    "train_load_average",
    "cpu_count",
    "params_trainable",
    "params_total",
    "trainable_share",
}
# What the comparison adds, in order.
COMPARED = [
    "backend",
    "rouge_mean_lo",
    "rouge_mean_hi",
    "baseline",
    "baseline_seed",
    "delta",
    "delta_lo",
    "delta_hi",
    "delta_n",
    "delta_base_mean",
    "delta_p",
    "delta_p_holm",
    "delta_significant",
    "delta_note",
    "differs",
    "state_mib",  # MiB: 2**20 bytes, as sumexp.results.memory records them
    "state_pct",
    "peak_kind",
    "peak_mib",
    "peak_pct",
    "memory_note",
    "speed_x",
    "speed_x_lo",
    "speed_x_hi",
    "speed_spread_lo",
    "speed_spread_hi",
    "speed_source",
    "speed_loaded",
    "speed_note",
    "config_key",
    "dev_set",
    "record_note",
]


def build_table(runs: list[dict], baseline: str = "full", speeds: list[dict] = ()) -> pd.DataFrame:
    """The report's rows; `runs` as run.listing.load_runs gives them, with `examples` and `config` attached.
    `baseline`: what the reference run must be (`--baseline`: a backend, or KEY=VALUE of the runs' configs)."""
    reference = compare.parse_reference(baseline, runs)
    rows = [{**_recorded(run), **_compared(run, runs, reference, speeds)} for run in runs]
    table = pd.DataFrame(rows, columns=[c for c, _ in FIELDS] + COMPARED)
    compare.mark_significance(table)
    table.insert(table.columns.get_loc("status"), "group", label_groups(table))
    return table


def _recorded(run: dict) -> dict:
    """The record's figures as they are, except a value that is not a finite number where one belongs: shown as
    missing, and named in the row's record_note, rather than failing the whole report."""
    row, bad = {}, []
    for column, key in FIELDS:
        value = run.get(key)
        if column in NUMERIC and value is not None and not compare.is_number(value):
            bad.append(f"{key}={value!r}")
            value = None
        row[column] = value
    notes = [f"not a number, shown as missing: {', '.join(bad)}"] if bad else []
    row["rouge_mean_lo"], row["rouge_mean_hi"] = _interval(run)
    if run.get("dev_rouge_mean_ci95") is not None and row["rouge_mean_lo"] is None and row["rouge_mean"] is not None:
        notes.append(
            f"dev_rouge_mean_ci95={run['dev_rouge_mean_ci95']!r} is not an interval around the mean, not shown"
        )
    row["record_note"] = "metrics.json: " + "; ".join(notes) if notes else None
    return row


def _interval(run: dict) -> tuple:
    """(lo, hi) of the mean's recorded interval when it is one (two numbers around the mean), else (None, None)."""
    interval, mean = run.get("dev_rouge_mean_ci95"), run.get("dev_rouge_mean")
    if (
        isinstance(interval, list | tuple)
        and len(interval) == 2
        and all(map(compare.is_number, interval))
        and compare.is_number(mean)
    ):
        if interval[0] <= mean <= interval[1]:
            return tuple(interval)
    return None, None


def _compared(run: dict, runs: list[dict], reference: compare.Reference, speeds=()) -> dict:
    examples = run.get("examples")
    row = {
        "backend": backend_label(run),
        "config_key": run.get("config_key"),
        "dev_set": examples.fingerprint if examples else None,
    }
    if run["status"] != run_record.COMPLETED:
        return row
    base, why_none = compare.choose_baseline(run, runs, reference)
    if base is None:
        return {**row, "delta_note": why_none, **compare.memory_ratio(run, None), **compare.speed_ratio(run, None)}
    row.update(baseline=base["run"], baseline_seed=base.get("seed"))
    if base is not run:
        row.update(compare.rouge_delta(run, base), differs=compare.what_differs(run, base))
    row.update(compare.memory_ratio(run, base))
    row.update(compare.speed_ratio(run, base, speeds))
    return row


def backend_label(run: dict) -> str:
    """`unsloth → qlora` when the backend that ran is not the one asked for."""
    requested, effective = run.get("backend_requested"), run.get("backend_effective")
    return f"{requested} → {effective}" if isinstance(effective, str) and effective != requested else str(requested)
