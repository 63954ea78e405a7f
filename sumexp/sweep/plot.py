"""report.png: ROUGE mean against peak memory, and against training throughput; a marker per backend, a colour per model."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]  # backends in order of appearance


def plot_report(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and in CI
    import matplotlib.pyplot as plt

    done = table[table["status"] == "completed"].copy()
    done["backend"] = done["backend_effective"].fillna(done["backend_requested"])
    speed, speed_label = _speed(done)
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(dict.fromkeys(done["model"]))}
    markers = {b: MARKERS[i % len(MARKERS)] for i, b in enumerate(dict.fromkeys(done["backend"]))}
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    panels = [(axes[0], done["peak_memory_mb"], f"peak memory (MB, {_memory_kind(done)})"), (axes[1], speed, speed_label)]
    for axis, x_values, x_label in panels:
        for (_, row), x in zip(done.iterrows(), x_values):
            if pd.isna(x) or pd.isna(row["rouge_mean"]):
                continue
            axis.scatter(x, row["rouge_mean"], color=colours[row["model"]], marker=markers[row["backend"]], s=70)
            axis.annotate(f"{row['model']}/{row['backend']}", (x, row["rouge_mean"]), fontsize=7,
                          xytext=(4, 4), textcoords="offset points")
        axis.set_xlabel(x_label)
        axis.set_ylabel("dev ROUGE mean (0-100)")
        axis.grid(alpha=0.3)
    axes[0].set_title("quality vs memory")
    axes[1].set_title("quality vs training speed")
    _legends(axes[1], colours, markers)
    fig.suptitle(f"{len(done)} completed of {len(table)} runs")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _speed(done: pd.DataFrame) -> tuple[pd.Series, str]:
    """Tokens/s when every completed run has it, else samples/s."""
    if len(done) and done["tokens_per_s"].notna().all():
        return done["tokens_per_s"], "training tokens/s"
    return done["samples_per_s"], "training samples/s"


def _memory_kind(done: pd.DataFrame) -> str:
    kinds = sorted(set(done["peak_memory_kind"].dropna()))
    return ", ".join(kinds) if kinds else "peak"


def _legends(axis, colours: dict, markers: dict) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=m) for m, c in colours.items()]
    handles += [Line2D([], [], color="grey", marker=k, linestyle="", label=b) for b, k in markers.items()]
    if handles:
        axis.legend(handles=handles, fontsize=8, loc="best", title="model (colour) / backend (marker)", title_fontsize=8)
