"""Seed groups: runs whose configs differ only in `seed`, summarised as mean ± sd over the seeds.

Runs of one config with the same seed are replicates (they measure the machine, not the seed), so a group needs
two different seeds, its n counts seeds, and each seed's replicates are averaged first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sumexp.run import record as run_record


def label_groups(table: pd.DataFrame) -> pd.Series:
    """`S1`, `S2`, ... for completed runs that share a seed-free config with another run; None for the rest."""
    done = table[(table["status"] == run_record.COMPLETED) & table["config_key"].notna()]
    seeds = done.groupby("config_key", sort=False)["seed"].nunique()
    names = {key: f"S{i}" for i, key in enumerate(seeds[seeds > 1].index, start=1)}
    return pd.Series(
        [
            names.get(key) if status == run_record.COMPLETED else None
            for key, status in zip(table["config_key"], table["status"])
        ],
        index=table.index,
        dtype=object,
    )


def summarize_groups(table: pd.DataFrame) -> pd.DataFrame:
    """One row per seed group: n, ROUGE mean ± sd, Δ paired by seed ± sd (runs whose baseline has their seed), speed."""
    rows = []
    for name, members in table[table["group"].notna()].groupby("group", sort=False):
        per_seed = members.groupby("seed", sort=False)  # replicates of a seed count once, at their mean
        is_baseline = bool((members["baseline"] == members["run"]).all())
        paired = members[members["delta"].notna() & (members["baseline_seed"] == members["seed"])]
        rows.append(
            {
                "group": name,
                "model": members["model"].iloc[0],
                "backend": members["backend"].iloc[0],
                "seeds": ", ".join(str(s) for s in per_seed.groups),
                "n": per_seed.ngroups,
                "replicates": len(members) - per_seed.ngroups,
                "is_baseline": is_baseline,
                **_spread("rouge_mean", _per_seed(members, "rouge_mean")),
                **_spread("delta", _per_seed(paired, "delta")),
                "delta_pairs": paired["seed"].nunique(),
                **_spread("speed_x", _per_seed(members, "speed_x")),
            }
        )
    columns = [
        "group",
        "model",
        "backend",
        "seeds",
        "n",
        "replicates",
        "is_baseline",
        "rouge_mean_mean",
        "rouge_mean_sd",
        "delta_mean",
        "delta_sd",
        "delta_pairs",
        "speed_x_mean",
        "speed_x_sd",
    ]
    return pd.DataFrame(rows, columns=columns)


def _per_seed(members: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(members[column], errors="coerce")
    return values.groupby(members["seed"], sort=False).mean().dropna()


def _spread(name: str, values: pd.Series) -> dict:
    """Mean and sample standard deviation (ddof=1; None below two values)."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    mean = float(values.mean()) if len(values) else None
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return {f"{name}_mean": mean, f"{name}_sd": sd}
