"""The table as Markdown, for report.md and the terminal: formatted cells, notes and errors listed beneath."""

from __future__ import annotations

import pandas as pd

from sumexp.run import record as run_record

ERROR_WIDTH = 60  # longer errors are cut in the table; the full one is listed under it
ROUGH_BELOW = 3  # seeds: an sd from fewer is a rough guide
HEADERS = [
    "run",
    "model",
    "backend",
    "seed group",
    "ROUGE-1",
    "ROUGE-2",
    "ROUGE-L",
    "ROUGE mean [95% CI]",
    "Δ ROUGE vs baseline [95% CI]",
    "model state %",
    "training peak %",
    "speed ×",
    "trainable",
    "train s",
    "status",
]


def to_markdown(table: pd.DataFrame, groups: pd.DataFrame | None = None) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_escape(cell) for cell in cells(row, groups)) + " |")
    return "\n".join(lines) + "\n"


def cells(row, groups: pd.DataFrame | None = None) -> list[str]:
    """The shown cells of one row, in HEADERS order (report.html uses them too)."""
    return [
        str(row["run"]),
        str(row["model"]),
        str(row["backend"]),
        _text(row["group"]),
        number(row["rouge1"]),
        number(row["rouge2"]),
        number(row["rougeL"]),
        rouge_mean_cell(row),
        delta_cell(row),
        state_cell(row),
        peak_cell(row),
        speed_cell(row, groups),
        _share(row["trainable_share"]),
        number(row["train_time_s"], "{:.1f}"),
        _status(row),
    ]


def rouge_mean_cell(row) -> str:
    if _missing(row["rouge_mean"]):
        return ""
    interval = "" if _missing(row["rouge_mean_lo"]) else f" [{row['rouge_mean_lo']:.2f}, {row['rouge_mean_hi']:.2f}]"
    return f"{row['rouge_mean']:.2f}{interval}"


def delta_cell(row) -> str:
    if row["status"] != run_record.COMPLETED:
        return ""
    if row["baseline"] == row["run"]:
        return "baseline"
    if _missing(row["delta"]):
        return "n/a"
    verdict = "significant" if flag(row["delta_significant"]) else "not significant"
    p_value = "" if _missing(row["delta_p_holm"]) else f" p={row['delta_p_holm']:.3g}"
    return f"{row['delta']:+.2f} [{row['delta_lo']:+.2f}, {row['delta_hi']:+.2f}]{p_value} {verdict}"


def state_cell(row) -> str:
    """Model state (counted from the tensors) in % of the baseline's."""
    if row["status"] != run_record.COMPLETED:
        return ""
    return "n/a" if _missing(row["state_pct"]) else f"{row['state_pct']:.0f}%"


def peak_cell(row) -> str:
    """The training peak (measured) in % of the baseline's, naming what was measured."""
    if row["status"] != run_record.COMPLETED:
        return ""
    return "n/a" if _missing(row["peak_pct"]) else f"{row['peak_pct']:.0f}% ({row['peak_kind']})"


def speed_cell(row, groups: pd.DataFrame | None = None) -> str:
    if row["status"] != run_record.COMPLETED:
        return ""
    if _missing(row["speed_x"]):
        return "n/a"
    if row.get("speed_source") == "alternated":
        interval = "" if row["baseline"] == row["run"] else f" [{row['speed_x_lo']:.2f}, {row['speed_x_hi']:.2f}]"
        return f"{row['speed_x']:.2f}×{interval} alternated"
    text = f"{row['speed_x']:.2f}×"
    if row["baseline"] != row["run"]:
        spread = (
            "" if _missing(row["speed_spread_lo"]) else f" [{row['speed_spread_lo']:.2f}, {row['speed_spread_hi']:.2f}]"
        )
        text += f"{spread} separate runs"
    # The baseline's own group is 1.00 by definition, not a measured spread (the seed groups table shows its ROUGE's).
    group = groups[groups["group"] == row["group"]] if groups is not None and not _missing(row["group"]) else None
    if row["baseline"] != row["run"] and group is not None and len(group) and not _missing(group["speed_x_sd"].iloc[0]):
        text += f" (group {group['speed_x_mean'].iloc[0]:.2f} ± {group['speed_x_sd'].iloc[0]:.2f})"
    return text + (" loaded" if flag(row["speed_loaded"]) else "")


GROUP_HEADERS = [
    "group",
    "model",
    "backend",
    "seeds",
    "n",
    "ROUGE mean ± sd",
    "Δ paired by seed ± sd (pairs)",
    "speed × ± sd",
]


def group_cells(g) -> list[str]:
    """The shown cells of one seed group, in GROUP_HEADERS order. The baseline's own group shows its seed-to-seed
    spread of ROUGE; its Δ and speed are 0 and 1 by definition, so they are not shown as measured."""
    replicates = f" (+{g['replicates']} replicate{'s' * (g['replicates'] != 1)})" if g["replicates"] else ""
    rough = " rough" if g["n"] < ROUGH_BELOW else ""
    baseline = flag(g["is_baseline"])
    return [
        str(g["group"]), str(g["model"]), str(g["backend"]), str(g["seeds"]), f"{g['n']}{replicates}{rough}",
        _pm(g["rouge_mean_mean"], g["rouge_mean_sd"]),
        "baseline" if baseline else f"{_pm(g['delta_mean'], g['delta_sd'], '{:+.2f}')} ({g['delta_pairs']})",
        "baseline" if baseline else _pm(g["speed_x_mean"], g["speed_x_sd"]),
    ]  # fmt: skip


def groups_markdown(groups: pd.DataFrame) -> str:
    """The seed groups: mean ± sd over seeds, and Δ paired by seed."""
    lines = ["| " + " | ".join(GROUP_HEADERS) + " |", "|" + "---|" * len(GROUP_HEADERS)]
    lines += ["| " + " | ".join(_escape(c) for c in group_cells(g)) + " |" for _, g in groups.iterrows()]
    text = "\n".join(lines) + "\n"
    if (groups["n"] < ROUGH_BELOW).any():
        text += (
            f"\n`rough`: fewer than {ROUGH_BELOW} seeds; an sd from two values is a rough guide to the seed-to-seed "
            "spread, not a measure of it. Replicates (runs of the same seed) are averaged before the spread.\n"
        )
    return text


def notes_markdown(table: pd.DataFrame) -> str:
    """Why a figure is n/a, or what to keep in mind, per run."""
    lines = []
    for _, row in table[table["status"] == run_record.COMPLETED].iterrows():
        against = (
            [] if row["baseline"] == row["run"] or _missing(row["baseline"]) else [f"baseline: `{row['baseline']}`"]
        )
        notes = against + [
            f"{what}: {row[key]}"
            for what, key in (
                ("differs from it", "differs"),
                ("Δ", "delta_note"),
                ("memory", "memory_note"),
                ("speed", "speed_note"),
                ("backend", "backend_note"),
                ("record", "record_note"),
            )
            if isinstance(row[key], str) and row[key]
        ]
        if notes:
            lines.append(f"- `{row['run']}`: " + "; ".join(notes))
    return "".join(line + "\n" for line in lines)


def errors_markdown(table: pd.DataFrame) -> str:
    """Every run that did not complete, with its whole error."""
    failed = table[table["error"].notna() & (table["status"] != run_record.COMPLETED)]
    return "".join(f"- `{r['run']}` ({r['status']}): {r['error']}\n" for _, r in failed.iterrows())


def flag(value) -> bool:
    """True for a set flag, whether pandas holds it as bool, numpy bool or object; False for None/NaN."""
    return not _missing(value) and bool(value)


def number(value, fmt: str = "{:.2f}") -> str:
    return "" if _missing(value) else fmt.format(value)


def _pm(mean, sd, fmt: str = "{:.2f}") -> str:
    if _missing(mean):
        return "n/a"
    return fmt.format(mean) + ("" if _missing(sd) else f" ± {sd:.2f}")


def _share(value) -> str:
    return "" if _missing(value) else f"{100 * value:.3g}%"


def _status(row) -> str:
    error = row["error"]
    if not isinstance(error, str) or row["status"] == run_record.COMPLETED:
        return str(row["status"]) + _attempts(row)
    short = error if len(error) <= ERROR_WIDTH else error[: ERROR_WIDTH - 1] + "…"
    return f"{row['status']}{_attempts(row)}: {short}"


def _attempts(row) -> str:
    """` (2 attempts)` for a job SLURM requeued; nothing for a run that ran once or outside SLURM."""
    attempts = row.get("attempts")
    return f" ({int(attempts)} attempts)" if not _missing(attempts) and attempts > 1 else ""


def _text(value) -> str:
    return "" if _missing(value) else str(value)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))
