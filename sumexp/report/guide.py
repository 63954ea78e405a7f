"""The opening paragraph of report.md: how to read this report's figures, and what is not comparable."""

from __future__ import annotations

import pandas as pd

from sumexp.report.markdown import flag
from sumexp.run import record as run_record
from sumexp.score import bootstrap


def how_to_read(table: pd.DataFrame, baseline: str) -> str:
    done = table[table["status"] == run_record.COMPLETED]
    compared = done[done["delta"].notna() & (done["baseline"] != done["run"])]
    significant = compared[[flag(v) for v in compared["delta_significant"]]]
    named = f" ({', '.join(f'`{r}`' for r in significant['run'])})" if len(significant) else ""
    reference = baseline if "=" in baseline else f"backend={baseline}"
    sentences = [
        f"**How to read this report.** Each completed run is compared with its baseline: the completed "
        f"`{reference}` run of the same model and the same seed (`--baseline` picks another). Where there is "
        "none, there is no Δ and the notes say why: a run of another seed is never put in its place.",
        "Δ ROUGE is the run's dev ROUGE mean minus its baseline's over the dev examples both scored (paired on "
        f"fname), with a 95% paired percentile bootstrap interval ({bootstrap.DELTA_RESAMPLES:,} resamples, seed "
        f"{bootstrap.SEED}) and a two-sided sign-flip permutation p-value (exact for up to 16 examples, else "
        f"{bootstrap.FLIPS:,} random flips), Holm-adjusted over the report's {len(compared)} comparison(s): a Δ is "
        "significant when its adjusted p is below 0.05 (docs/statistics.md).",
        f"Here {len(significant)} of {len(compared)} Δs are significant{named}.",
        _sample_size(compared),
        "ROUGE is dev F1 on a 0–100 scale; the interval after the mean is the run's own bootstrap interval.",
        "Model state % compares the memory counted from the tensors (weights as stored, gradients and optimizer "
        "state), the same on every device. Training peak % compares what was measured over the training steps: "
        f"{peak_kinds(done)} (`CUDA peak`: the CUDA peak allocated, on a GPU; `RSS added`: the resident memory the "
        "steps added to the process, on a CPU); the cell names the kind, and only the same kind from the same "
        "device is divided. report.csv gives both in MiB (`state_mib`, `peak_mib`: 2^20 bytes).",
        "Speed × is the baseline's step time over the run's: `alternated` when `python -m sumexp.speed` timed the "
        "two backends in turns in one process on the same batches (its 95% interval is over rounds; a speed-*.json "
        "beside the runs), else `separate runs`, the two runs' trained tokens per second each under the machine's "
        "load at its own time, which on a shared machine measures the load as much as the backend; its [lo, hi] "
        "is the ratio at the 10th and 90th percentile step times of both runs (their own spread, not a confidence "
        "interval); `loaded` marks a separate-runs ratio measured while the load average exceeded the CPU count.",
        f"Devices: {_devices(done)}.",
        _not_comparable(done),
        _bases(done),
        "Runs whose configs differ only in `seed` form a seed group (below): a Δ smaller than the seed-to-seed "
        "spread is not a backend effect; compare with `-m ... seed=1,2,3`.",
    ]
    return " ".join(sentence for sentence in sentences if sentence) + "\n"


def _bases(done: pd.DataFrame) -> str:
    """What the runs' training started from (metrics.json base_model): a Δ compares runs from the same base."""
    if "base_model" not in done:
        return ""
    bases = sorted({f"{model}: {base}" for model, base in zip(done["model"], done["base_model"]) if pd.notna(base)})
    if not bases:
        return ""
    return f"What each model's runs started from (the `base_model` column): {'; '.join(bases)}."


def _sample_size(compared: pd.DataFrame) -> str:
    """n, and what it means for the intervals when it is small."""
    sizes = sorted({int(n) for n in compared["delta_n"].dropna()})
    if not sizes:
        return ""
    shown = f"n = {sizes[0]}" if len(sizes) == 1 else f"n = {sizes[0]} to {sizes[-1]}"
    if sizes[0] >= bootstrap.SMALL_N:
        return f"Each Δ pairs {shown} dev examples."
    return (
        f"Each Δ pairs {shown} dev examples: below {bootstrap.SMALL_N} a percentile bootstrap interval is too "
        "narrow (it misses the tails of a small sample), so take the intervals as a rough guide; the sign-flip "
        "p-value holds at any n."
    )


def peak_kinds(done: pd.DataFrame) -> str:
    """What the training peak measured in these runs."""
    kinds = sorted(set(done["peak_kind"].dropna()))
    return " and ".join(kinds) if kinds else "not recorded"


def _devices(done: pd.DataFrame) -> str:
    counts = done["device"].fillna("unknown").value_counts()
    return ", ".join(f"{device} ({n} run{'s' * (n != 1)})" for device, n in counts.items()) or "none completed"


def _not_comparable(done: pd.DataFrame) -> str:
    """How many figures are n/a, and the reasons, so no reader takes a blank for a tie."""
    reasons = {}
    for key in ("delta_note", "memory_note", "speed_note"):
        for note in done[key].dropna():
            if isinstance(note, str) and note.startswith(("n/a", "no ", "baseline")):
                reason = note.removeprefix("n/a: ")
                reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return "Every compared figure pairs like with like."
    listed = "; ".join(f"{note} ({n}×)" for note, n in sorted(reasons.items(), key=lambda item: -item[1]))
    return f"Not comparable, so shown as n/a: {listed}."
