"""The comparison table: one row per run, with memory and speed against a baseline run of the same model."""
from __future__ import annotations

import numbers

import pandas as pd

# (column, metrics.json key): what the report keeps of each run, in order.
FIELDS = [
    ("run", "run"), ("model", "model"), ("backend_requested", "backend_requested"),
    ("backend_effective", "backend_effective"), ("status", "status"), ("error", "error"),
    ("rouge1", "dev_rouge1"), ("rouge2", "dev_rouge2"), ("rougeL", "dev_rougeL"), ("rouge_mean", "dev_rouge_mean"),
    ("peak_memory_mb", "peak_memory_mb"), ("peak_memory_kind", "peak_memory_kind"),
    ("tokens_per_s", "train_tokens_per_second"), ("samples_per_s", "train_samples_per_second"),
    ("train_time_s", "train_runtime_s"), ("params_trainable", "params_trainable"), ("params_total", "params_total"),
    ("run_dir", "run_dir"),
]


def build_table(runs: list[dict], baseline: str = "full") -> pd.DataFrame:
    """The report's rows; memory_pct and speed_x compare each run with `baseline` on the same model."""
    table = pd.DataFrame([{column: run.get(key) for column, key in FIELDS} for run in runs], columns=[c for c, _ in FIELDS])
    ratios = [_ratios(row, _baseline_row(table, row["model"], baseline)) for _, row in table.iterrows()]
    table["memory_pct"] = [r[0] for r in ratios]
    table["speed_x"] = [r[1] for r in ratios]
    table["baseline"] = [r[2] for r in ratios]
    return table


def _baseline_row(table: pd.DataFrame, model: str, baseline: str):
    """The first completed run of this model whose effective backend is the baseline."""
    match = table[(table["model"] == model) & (table["backend_effective"] == baseline) & (table["status"] == "completed")]
    return None if match.empty else match.iloc[0]


def _ratios(row, base) -> tuple:
    """(peak memory in % of the baseline's, throughput as a multiple of it, the baseline's run), or Nones."""
    if base is None or row["status"] != "completed":
        return None, None, None
    memory = _ratio(row["peak_memory_mb"], base["peak_memory_mb"])
    # Tokens/s when both runs have it; samples/s gives the same ratio for one model on the same data.
    unit = "tokens_per_s" if _number(row["tokens_per_s"]) and _number(base["tokens_per_s"]) else "samples_per_s"
    speed = _ratio(row[unit], base[unit])
    return (None if memory is None else 100 * memory), speed, base["run"]


def _ratio(value, reference):
    return value / reference if _number(value) and _number(reference) and reference > 0 else None


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not pd.isna(value)
