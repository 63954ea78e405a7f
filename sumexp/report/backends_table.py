"""Per model, one row per backend over its seeds: model state %, training peak %, speed ×, ROUGE Δ against the
baseline, and what else differs; written first in report.md, and as report_backends.csv and report_backends.tex
(booktabs).

Each interval says where it comes from (INTERVALS): a Δ of one seed carries its paired bootstrap interval, of
several seeds the range of the per-seed Δs; a speed timed in turns carries the interval over rounds of
`python -m sumexp.speed`, a speed of separate runs the range over seeds (one seed: the step-time spread).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sumexp.report import compare
from sumexp.run import record as run_record

INTERVALS = (
    "Intervals: memory % is the mean over seeds; Δ ROUGE of one seed carries its paired 95% bootstrap interval, "
    "of several seeds the range of the per-seed Δs (each against its own seed's baseline); `speed from` says "
    "where speed × and its interval come from: `in turns` (python -m sumexp.speed, 95% CI over rounds) or "
    "`separate runs` (the range over seeds, or with one seed the ratio at both runs' 10th and 90th percentile "
    "step times). Significance is Holm-adjusted over the whole report (docs/statistics.md)."
)
COLUMNS = [
    ("model", "model"),
    ("backend", "backend"),
    ("seeds", "seeds"),
    ("model_state_pct", "model state %"),
    ("train_peak_pct", "training peak %"),
    ("speed_x", "speed ×"),
    ("speed_source", "speed from"),
    ("delta", "Δ ROUGE (points)"),
    ("delta_pct", "Δ ROUGE (% of baseline)"),
    ("significant", "significant (Holm)"),
    ("differs", "differs from baseline"),
]


def backend_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, backend) over its completed, compared runs; intervals as `[lo, hi]` text beside.

    One seed: Δ's interval is the paired bootstrap's. Several: the range of the per-seed values (each seed's
    Δ against its own-seed baseline), which shows the seed-to-seed spread the bootstrap does not cover.
    """
    done = table[(table["status"] == run_record.COMPLETED) & table["baseline"].notna()]
    rows = []
    for (model, backend), runs in done.groupby(["model", "backend"], sort=False):
        rows.append(_summarize(model, backend, runs, table))
    return pd.DataFrame(
        rows, columns=[key for key, _ in COLUMNS] + ["peak_kind", "speed_interval", "delta_interval", "_scale"]
    )


def _summarize(model, backend, runs: pd.DataFrame, table: pd.DataFrame) -> dict:
    baselines = table.set_index("run").loc[runs["baseline"]]
    is_baseline = bool((runs["baseline"] == runs["run"]).all())
    deltas = pd.to_numeric(runs["delta"], errors="coerce")
    base_rouge = pd.to_numeric(baselines["rouge_mean"], errors="coerce").to_numpy()
    delta = float(deltas.mean()) if deltas.notna().any() else None
    if len(runs) == 1 and delta is not None:
        interval = (float(runs["delta_lo"].iloc[0]), float(runs["delta_hi"].iloc[0]))
    else:
        interval = (float(deltas.min()), float(deltas.max())) if deltas.notna().sum() > 1 else None
    base_mean = float(np.nanmean(base_rouge)) if len(base_rouge) and not np.isnan(base_rouge).all() else None
    scale = 100 / base_mean if base_mean else None
    marks = [bool(v) for v in runs["delta_significant"] if isinstance(v, (bool, np.bool_))]
    return {
        "model": model,
        "backend": backend,
        "seeds": ", ".join(str(s) for s in runs["seed"]),
        "model_state_pct": _mean(runs["state_pct"]),
        "train_peak_pct": _mean(runs["peak_pct"]),
        "peak_kind": " and ".join(sorted(set(runs["peak_kind"].dropna()))) or None,
        **_speed(runs, is_baseline),
        "delta": None if is_baseline else delta,
        "delta_interval": None if is_baseline else interval,
        "delta_pct": None if is_baseline or delta is None or scale is None else delta * scale,
        "significant": "baseline" if is_baseline else (f"{sum(marks)} of {len(marks)}" if marks else "n/a"),
        "differs": "; ".join(sorted({d for d in runs["differs"] if isinstance(d, str) and d})) or "",
        "_scale": scale,
    }


def _speed(runs: pd.DataFrame, is_baseline: bool) -> dict:
    """Speed × over the seeds, with the interval that fits where it came from."""
    speeds = pd.to_numeric(runs["speed_x"], errors="coerce")
    if speeds.isna().all():
        return {"speed_x": None, "speed_interval": None, "speed_source": None}
    sources = set(runs["speed_source"].dropna())
    if is_baseline:
        return {"speed_x": 1.0, "speed_interval": None, "speed_source": "baseline"}
    if sources == {compare.ALTERNATED}:  # one measurement of this model's backends: the same ratio for every seed
        lo, hi = _mean(runs["speed_x_lo"]), _mean(runs["speed_x_hi"])
        interval = (lo, hi) if lo is not None and hi is not None else None
        return {"speed_x": _mean(speeds), "speed_interval": interval, "speed_source": "in turns, 95% CI over rounds"}
    if len(speeds.dropna()) > 1:
        return {
            "speed_x": _mean(speeds),
            "speed_interval": _range(speeds),
            "speed_source": "separate runs, range over seeds",
        }
    lo, hi = _mean(runs["speed_spread_lo"]), _mean(runs["speed_spread_hi"])
    interval = (lo, hi) if lo is not None and hi is not None else None
    return {"speed_x": _mean(speeds), "speed_interval": interval, "speed_source": "separate runs, p10–p90 step times"}


def cells(row) -> list[str]:
    """The shown cells of one summary row, in COLUMNS order."""
    interval, scale = row["delta_interval"], row.get("_scale")
    delta = _number(row["delta"], "{:+.2f}") + _interval(interval, 1.0, "{:+.2f}")
    delta_pct = _number(row["delta_pct"], "{:+.1f}%") + _interval(interval, scale, "{:+.1f}%")
    speed = _number(row["speed_x"], "{:.2f}×") + _interval(row["speed_interval"], 1.0, "{:.2f}")
    return [
        str(row["model"]), str(row["backend"]), str(row["seeds"]),
        _number(row["model_state_pct"], "{:.0f}%"), _peak(row), speed, _text(row["speed_source"]), delta if row["significant"] != "baseline" else "baseline", delta_pct, str(row["significant"]),
        str(row["differs"]),
    ]  # fmt: skip


def to_markdown(summary: pd.DataFrame) -> str:
    head = [title for _, title in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |" for _, r in summary.iterrows()]
    return "\n".join(lines) + "\n"


def to_csv_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as plain numbers for report_backends.csv: intervals split into lo and hi columns."""
    frame = summary.drop(columns=["_scale"], errors="ignore").copy()
    for name in ("speed_interval", "delta_interval"):
        frame[f"{name}_lo"] = [v[0] if isinstance(v, tuple) else None for v in frame[name]]
        frame[f"{name}_hi"] = [v[1] if isinstance(v, tuple) else None for v in frame[name]]
    return frame.drop(columns=["speed_interval", "delta_interval"])


def to_latex(summary: pd.DataFrame) -> str:
    """A booktabs table a paper can \\input (needs \\usepackage{booktabs})."""
    head = [title for _, title in COLUMNS]
    body = [" & ".join(_latex(c) for c in cells(r)) + r" \\" for _, r in summary.iterrows()]
    return "\n".join(
        [r"\begin{tabular}{" + "l" * len(head) + "}", r"\toprule", " & ".join(map(_latex, head)) + r" \\", r"\midrule"]
        + body
        + [r"\bottomrule", r"\end{tabular}", ""]
    )


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "×": r"$\times$", "Δ": r"$\Delta$", "→": r"$\to$"}  # fmt: skip


def _latex(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def _peak(row) -> str:
    kind = row.get("peak_kind")
    shown = _number(row["train_peak_pct"], "{:.0f}%")
    return f"{shown} ({kind})" if shown != "n/a" and isinstance(kind, str) else shown


def _text(value) -> str:
    return "" if value is None or value != value else str(value)


def _mean(values: pd.Series):
    values = pd.to_numeric(values, errors="coerce").dropna()
    return float(values.mean()) if len(values) else None


def _range(values: pd.Series):
    values = pd.to_numeric(values, errors="coerce").dropna()
    return (float(values.min()), float(values.max())) if len(values) > 1 else None


def _number(value, fmt: str) -> str:
    return "n/a" if value is None or value != value else fmt.format(value)


def _interval(interval, scale, fmt: str) -> str:
    if not isinstance(interval, tuple) or scale is None:
        return ""
    return f" [{fmt.format(interval[0] * scale)}, {fmt.format(interval[1] * scale)}]"
