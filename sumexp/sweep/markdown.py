"""The table as Markdown, for report.md and the terminal: formatted numbers, errors listed beneath."""
from __future__ import annotations

import pandas as pd

ERROR_WIDTH = 60  # longer errors are cut in the table; the full one is listed under it

# (header, column, format); a format of None prints the value as it is.
SHOWN = [
    ("run", "run", None), ("model", "model", None), ("backend", "backend", None), ("status", "status_text", None),
    ("ROUGE-1", "rouge1", "{:.2f}"), ("ROUGE-2", "rouge2", "{:.2f}"), ("ROUGE-L", "rougeL", "{:.2f}"),
    ("ROUGE mean", "rouge_mean", "{:.2f}"), ("peak MB", "peak_memory_mb", "{:,.0f}"),
    ("tokens/s", "tokens_per_s", "{:,.0f}"), ("train s", "train_time_s", "{:.1f}"),
    ("trainable params", "params_trainable", "{:,.0f}"), ("memory %", "memory_pct", "{:.0f}%"),
    ("speed ×", "speed_x", "{:.2f}×"),
]


def to_markdown(table: pd.DataFrame) -> str:
    shown = table.assign(backend=[_backend(r) for _, r in table.iterrows()],
                         status_text=[_status(r) for _, r in table.iterrows()])
    lines = ["| " + " | ".join(h for h, _, _ in SHOWN) + " |", "|" + "---|" * len(SHOWN)]
    for _, row in shown.iterrows():
        lines.append("| " + " | ".join(_cell(row[c], f) for _, c, f in SHOWN) + " |")
    return "\n".join(lines) + "\n"


def errors_markdown(table: pd.DataFrame) -> str:
    """Every run that did not complete, with its whole error."""
    failed = table[table["error"].notna() & (table["status"] != "completed")]
    return "".join(f"- `{r['run']}` ({r['status']}): {r['error']}\n" for _, r in failed.iterrows())


def _backend(row) -> str:
    requested, effective = row["backend_requested"], row["backend_effective"]
    return f"{requested} → {effective}" if isinstance(effective, str) and effective != requested else str(requested)


def _status(row) -> str:
    error = row["error"]
    if not isinstance(error, str) or row["status"] == "completed":
        return str(row["status"])
    short = error if len(error) <= ERROR_WIDTH else error[: ERROR_WIDTH - 1] + "…"
    return f"{row['status']}: {short}".replace("|", "\\|")


def _cell(value, fmt) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return fmt.format(value) if fmt else str(value).replace("|", "\\|")
