"""report.png: one row per completed run, one panel per figure, error bars for the 95% intervals; and
report_backends.png: the backends table's three axes (memory, speed, ROUGE Δ), one row per model × backend.

The runs are rows with their label once on the left, like a table, so labels cannot overlap however
many runs there are (annotating scatter points could not promise that).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pandas as pd

from sumexp.report.guide import peak_kinds
from sumexp.run import record as run_record

ROW_INCHES = 0.34  # height per run
LABEL_CHAR_INCHES = 0.075  # width of one character of an 8-point run label


def plot_report(table: pd.DataFrame, path: Path | BinaryIO) -> None:
    """The comparison drawn as a PNG, into a file or a binary handle."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and in CI
    import matplotlib.pyplot as plt

    done = table[table["status"] == run_record.COMPLETED].reset_index(drop=True)
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(dict.fromkeys(done["model"]))}
    fig, axes = plt.subplots(1, 5, figsize=(20, max(4.0, 1.6 + ROW_INCHES * len(done))), sharey=True)
    rows = list(range(len(done)))[::-1]  # first run on top
    colour = [colours[m] for m in done["model"]]
    _interval_panel(axes[0], done["rouge_mean"], done["rouge_mean_lo"], done["rouge_mean_hi"], rows, colour)
    axes[0].set_title("dev ROUGE mean, 95% CI")
    _interval_panel(axes[1], done["delta"], done["delta_lo"], done["delta_hi"], rows, colour, done["delta_significant"])
    axes[1].axvline(0, color="grey", lw=0.8)
    axes[1].set_title("Δ ROUGE vs baseline, paired 95% CI\n(filled: significant)")
    _point_panel(axes[2], done["state_pct"], rows, colour, "model state % of baseline\n(counted, every device)")
    _point_panel(axes[3], done["peak_pct"], rows, colour, f"training peak % of baseline\n({peak_kinds(done)})")
    lo = done["speed_x_lo"].where(done["speed_x_lo"].notna(), done["speed_spread_lo"])
    hi = done["speed_x_hi"].where(done["speed_x_hi"].notna(), done["speed_spread_hi"])
    _interval_panel(axes[4], done["speed_x"], lo, hi, rows, colour)
    axes[4].set_title("speed × of baseline\n(alternated: 95% CI; separate runs: step-time p10–p90)")
    _finish(fig, axes[0], rows, [run_label(r) for _, r in done.iterrows()], colours)
    fig.suptitle(f"{len(done)} completed of {len(table)} runs")
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def plot_backends(summary: pd.DataFrame, path: Path | BinaryIO) -> None:
    """The backends table's three axes, one row per model × backend over its seeds: memory % (model state and
    training peak), speed × and Δ ROUGE in % of the baseline, each with the interval the table shows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(dict.fromkeys(summary["model"]))}
    fig, axes = plt.subplots(1, 3, figsize=(15, max(3.5, 1.6 + ROW_INCHES * len(summary))), sharey=True)
    rows = list(range(len(summary)))[::-1]
    colour = [colours[m] for m in summary["model"]]
    state = pd.to_numeric(summary["model_state_pct"], errors="coerce")
    peak = pd.to_numeric(summary["train_peak_pct"], errors="coerce")
    axes[0].scatter(state, rows, marker="D", c=colour, label="model state (counted)")
    kinds = " and ".join(sorted({k for k in summary["peak_kind"].dropna()})) or "not recorded"
    axes[0].scatter(peak, rows, marker="o", facecolors="none", edgecolors=colour, label=f"training peak ({kinds})")
    if len(summary):
        axes[0].legend(fontsize=7, loc="best")
    axes[0].set_title("memory % of baseline")
    axes[0].grid(axis="x", alpha=0.3)
    lo, hi = _bounds(summary["speed_interval"], 1.0)
    _interval_panel(axes[1], summary["speed_x"], lo, hi, rows, colour)
    axes[1].axvline(1, color="grey", lw=0.8)
    axes[1].set_title("speed × of baseline\n(interval: see report.md)")
    scale = pd.to_numeric(summary["_scale"], errors="coerce")
    lo, hi = _bounds(summary["delta_interval"], scale)
    _interval_panel(axes[2], summary["delta_pct"], lo, hi, rows, colour)
    axes[2].axvline(0, color="grey", lw=0.8)
    axes[2].set_title("Δ ROUGE, % of baseline\n(1 seed: paired 95% CI; more: range over seeds)")
    labels = [f"{m} · {b} · seeds {s}" for m, b, s in zip(summary["model"], summary["backend"], summary["seeds"])]
    _finish(fig, axes[0], rows, labels, colours)
    fig.suptitle("Backends per model, over their seeds")
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def _finish(fig, first_axis, rows, labels: list[str], colours: dict) -> None:
    """Row labels on the left, the models' legend below, margins sized from the longest label."""
    from matplotlib.patches import Patch

    first_axis.set_yticks(rows, labels, fontsize=8)
    first_axis.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    if colours:
        fig.legend(
            handles=[Patch(color=c, label=m) for m, c in colours.items()],
            loc="lower center",
            ncol=min(len(colours), 6),
            fontsize=8,
            frameon=False,
        )
    # Fixed margins sized from the longest label: tight_layout would draw the whole figure once more.
    label_inches = 0.3 + LABEL_CHAR_INCHES * max((len(label) for label in labels), default=0)
    height = fig.get_figheight()
    fig.subplots_adjust(
        left=min(0.45, label_inches / fig.get_figwidth()),
        right=0.98,
        wspace=0.25,
        bottom=0.9 / height,
        top=1 - 1.0 / height,
    )


def _bounds(intervals: pd.Series, scale) -> tuple[list, list]:
    """(lo, hi) lists from a column of (lo, hi) tuples or None, each times its scale."""
    scales = scale if isinstance(scale, pd.Series) else pd.Series([scale] * len(intervals), index=intervals.index)
    lo = [i[0] * f if isinstance(i, tuple) and f == f else None for i, f in zip(intervals, scales)]
    hi = [i[1] * f if isinstance(i, tuple) and f == f else None for i, f in zip(intervals, scales)]
    return lo, hi


def run_label(row) -> str:
    """`tiny_bart · unsloth → qlora · seed 1`: what ran, as the table says it."""
    seed = "" if pd.isna(row["seed"]) else f" · seed {int(row['seed'])}"
    return f"{row['model']} · {row['backend']}{seed}"


def _interval_panel(axis, values, lo, hi, rows, colour, significant=None) -> None:
    """A point and its interval per run; hollow where `significant` says the interval holds 0.

    One errorbar call per colour and fill: a call per run made the plot most of the report's time.
    """
    significant = [True] * len(rows) if significant is None else list(significant)
    batches: dict = {}
    for y, value, low, high, c, filled in zip(rows, values, lo, hi, colour, significant):
        if pd.isna(value):
            continue
        low, high = (value, value) if pd.isna(low) else (low, high)
        batch = batches.setdefault((c, not pd.isna(filled) and bool(filled)), ([], [], [], []))
        for part, number in zip(batch, (value, y, value - low, high - value)):
            part.append(number)
    for (c, filled), (x, y, below, above) in batches.items():
        axis.errorbar(x, y, xerr=[below, above], fmt="o", color=c, mfc=c if filled else "white", capsize=3)
    axis.grid(axis="x", alpha=0.3)


def _point_panel(axis, values, rows, colour, title: str) -> None:
    shown = [(value, y, c) for y, value, c in zip(rows, values, colour) if not pd.isna(value)]
    if shown:
        x, y, c = zip(*shown)
        axis.scatter(x, y, marker="D", c=list(c))
    axis.set_title(title)
    axis.grid(axis="x", alpha=0.3)
