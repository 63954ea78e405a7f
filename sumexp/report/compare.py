"""Each run against its baseline: ROUGE Δ with a paired bootstrap, model state % (counted) and training peak %
(measured, of one kind), speed × on one device.

A run's baseline is the completed run of the same model and the same seed that the reference names (by default
backend=full); a Δ pairs the two runs' scores on the dev examples both scored. A figure is only ever divided by
one of the same kind from the same device; anything else is None with a note saying why, never a mixed ratio.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from sumexp.errors import UserError
from sumexp.report.configs import differing_keys, flat
from sumexp.run import record as run_record
from sumexp.score import bootstrap

CPU = "cpu"


@dataclass(frozen=True)
class Reference:
    """What a baseline run must be: `backend=full` (the backend that ran), or any key of .hydra/config.yaml."""

    key: str
    value: str

    def matches(self, run: dict) -> bool:
        if self.key == "backend":
            return run.get("backend_effective") == self.value
        config = flat(run.get("config"))
        return self.key in config and _same_value(config[self.key], self.value)

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


def parse_reference(text: str, runs: list[dict]) -> Reference:
    """`--baseline`: `lora` (a backend), `backend=lora`, or `KEY=VALUE` for a key the runs' configs have."""
    key, _, value = text.partition("=") if "=" in text else ("backend", "", text)
    key, value = key.strip(), value.strip()
    if not key or not value:
        raise UserError(f"--baseline {text}: give KEY=VALUE, e.g. --baseline backend=lora or --baseline optim.lr=0.001")
    if key != "backend" and not any(key in flat(run.get("config")) for run in runs):
        raise UserError(
            f"--baseline {text}: no run's .hydra/config.yaml has {key}; use backend=NAME or a key it has, "
            f"e.g. --baseline optim.lr=0.001"
        )
    return Reference(key, value)


def choose_baseline(run: dict, runs: list[dict], reference: Reference) -> tuple[dict | None, str | None]:
    """(the completed run of the same model and seed that matches `reference`, None), or (None, why not). A Δ
    pairs each dev example's scores under one seed: a run of another seed is never taken in its place. A run that
    matches the reference is its own baseline; among others, the same dev set and then device come first."""
    candidates = [
        r
        for r in runs
        if r["status"] == run_record.COMPLETED and r.get("model") == run.get("model") and reference.matches(r)
    ]
    same_seed = [r for r in candidates if r.get("seed") == run.get("seed")]
    if not same_seed:
        other_seeds = sorted({str(r.get("seed")) for r in candidates})
        elsewhere = f" (only with seed {', '.join(other_seeds)})" if other_seeds else ""
        return None, f"no completed {reference} run of {run.get('model')} with seed {run.get('seed')}{elsewhere}"

    def closeness(other):
        return (other is run, _dev_set(other) == _dev_set(run), other.get("device") == run.get("device"))

    return max(same_seed, key=closeness), None  # max keeps the first of equals: job order


def rouge_delta(run: dict, base: dict | None) -> dict:
    """Δ ROUGE mean (run - baseline) over the dev examples both scored (paired on fname, with the same
    references), its paired 95% bootstrap interval and sign-flip p-value, or a note saying why there is none."""
    mine, theirs = run.get("examples"), base.get("examples")
    if mine is None or theirs is None or mine.scores is None or theirs.scores is None:
        return {"delta_note": "no per-example ROUGE in dev_predictions.csv"}
    pairs = _common_examples(mine, theirs)
    if not pairs:
        return {"delta_note": "no dev example in common with its baseline (another dev set): not paired"}
    mine_index, their_index = map(list, zip(*pairs))
    differences = mine.scores["rouge_mean"][mine_index] - theirs.scores["rouge_mean"][their_index]
    lo, hi = bootstrap.percentile_interval(differences, resamples=bootstrap.DELTA_RESAMPLES)
    most = max(len(mine.fnames), len(theirs.fnames))
    partial = f"paired on the {len(pairs)} of {most} dev examples both runs scored" if len(pairs) < most else None
    return {
        "delta": float(differences.mean()),
        "delta_lo": lo,
        "delta_hi": hi,
        "delta_p": bootstrap.sign_flip_p_value(differences),
        "delta_n": len(pairs),
        "delta_base_mean": float(theirs.scores["rouge_mean"][their_index].mean()),
        "delta_note": partial,
    }


def mark_significance(table, level: float = 0.05) -> None:
    """Holm-adjust every Δ's p-value over the report's comparisons (a run against itself is none) and mark a Δ
    significant when its adjusted p-value is below `level`."""
    compared = table["delta_p"].notna() & (table["baseline"] != table["run"])
    table["delta_p_holm"] = None
    table["delta_significant"] = None
    if compared.any():
        adjusted = bootstrap.holm(table.loc[compared, "delta_p"].astype(float).to_numpy())
        table.loc[compared, "delta_p_holm"] = adjusted
        table.loc[compared, "delta_significant"] = adjusted < level


def what_differs(run: dict, base: dict) -> str | None:
    """The settings other than the backend and the seed that differ from the baseline's, with the learning rate
    each run trained at (it may come from the backend's lr_scale), or None when a config is unknown."""
    keys = differing_keys(run.get("config"), base.get("config"))
    rates = base.get("learning_rate"), run.get("learning_rate")
    if all(map(is_number, rates)) and rates[0] != rates[1]:
        keys = [*(keys or []), f"learning rate {rates[0]:g} → {rates[1]:g}"]
    return "; ".join(keys) if keys is not None else None


def _common_examples(mine, theirs) -> list[tuple[int, int]]:
    """(index in mine, index in theirs) for each fname both scored against the same references."""
    where = {fname: i for i, fname in enumerate(theirs.fnames)}
    return [
        (i, where[fname])
        for i, fname in enumerate(mine.fnames)
        if fname in where and mine.references[i] == theirs.references[where[fname]]
    ]


def _same_value(recorded, given: str) -> bool:
    if str(recorded) == given:
        return True
    try:
        return float(recorded) == float(given)
    except (TypeError, ValueError):
        return False


MIB = 2**20  # the MB of sumexp.results.memory, and the unit of the report's *_mib columns
CUDA_PEAK, RSS_ADDED = "CUDA peak", "RSS added"  # what "training peak" measured: on a GPU, on a CPU


def model_state_mib(run: dict) -> float | None:
    """Weights as stored, gradients and optimizer state, counted from the tensors (the same on every device)."""
    stored = run.get("memory_model_state_bytes")
    return stored / MIB if is_number(stored) else None


def train_peak(run: dict) -> tuple[str | None, float | None]:
    """(kind, MiB) measured over the training steps: the CUDA peak allocated on a GPU, the resident memory the
    steps added on a CPU; (kind, None) when not recorded, (None, None) when the device is unknown."""
    device = run.get("device")
    if device is None:
        return None, None
    kind, key = (RSS_ADDED, "memory_train_rss_added_mb") if device == CPU else (CUDA_PEAK, "memory_train_peak_mb")
    value = run.get(key)  # sumexp.results.memory's MB: 2**20 bytes
    return kind, value if is_number(value) else None


def memory_ratio(run: dict, base: dict | None) -> dict:
    """Model state % and training peak % of the baseline's, each of one kind from the same device, else None and
    why: the two columns never change their meaning with the device."""
    kind, peak = train_peak(run)
    out = {"state_mib": model_state_mib(run), "state_pct": None, "peak_kind": kind, "peak_mib": peak, "peak_pct": None}
    if base is None:
        return {**out, "memory_note": "no baseline run"}
    if run.get("device") != base.get("device"):
        return {**out, "memory_note": f"n/a: baseline ran on {base.get('device')}, this on {run.get('device')}"}
    out["state_pct"] = _percent(out["state_mib"], model_state_mib(base))
    out["peak_pct"] = _percent(peak, train_peak(base)[1])
    missing = [name for name, pct in (("model state", out["state_pct"]), (kind or "training peak", out["peak_pct"]))
               if pct is None]  # fmt: skip
    return {**out, "memory_note": f"n/a: {' and '.join(missing)} not recorded" if missing else None}


def _percent(value: float | None, base_value: float | None) -> float | None:
    return 100 * value / base_value if value is not None and base_value is not None and base_value > 0 else None


ALTERNATED, SEPARATE = "alternated", "separate runs"  # where a speed ratio comes from


def speed_ratio(run: dict, base: dict | None, measured: list[dict] = ()) -> dict:
    """Speed × against the baseline: from a `python -m sumexp.speed` measurement of this model on this device
    (its backends timed in turns, with an interval over rounds) when there is one, else trained tokens/s of
    the two runs, each under the machine's load at its own time, on the same device and model family only."""
    if base is None:
        return {"speed_x": None, "speed_note": "no baseline run"}
    alternated = _alternated(run, base, measured)
    if alternated is not None:
        return alternated
    for key in ("device", "family"):
        if run.get(key) != base.get(key):
            return {"speed_x": None, "speed_note": f"n/a: {key} {run.get(key)} vs baseline's {base.get(key)}"}
    mine, theirs = run.get("train_trained_tokens_per_second"), base.get("train_trained_tokens_per_second")
    if not (is_number(mine) and is_number(theirs)) or theirs <= 0:
        return {"speed_x": None, "speed_note": "n/a: trained tokens/s not recorded"}
    loaded = [r["run"] for r in (run, base) if _loaded(r)]
    note = f"loaded machine ({', '.join(dict.fromkeys(loaded))}: load average above its CPU count)" if loaded else None
    ratio = {"speed_x": mine / theirs, "speed_loaded": bool(loaded), "speed_source": SEPARATE}
    if run is not base:
        separate = "from separate runs, each under the load of its own time (python -m sumexp.speed alternates them)"
        spread = step_time_spread(run, base)
        if spread is not None:
            ratio.update(speed_spread_lo=ratio["speed_x"] * spread[0], speed_spread_hi=ratio["speed_x"] * spread[1])
            separate += "; [lo, hi]: the ratio at the 10th and 90th percentile step times of both runs"
        else:
            separate += "; the runs' step-time spread is not recorded"
        note = f"{separate}; {note}" if note else separate
    return {**ratio, "speed_note": note}


def step_time_spread(run: dict, base: dict) -> tuple[float, float] | None:
    """How far the speed ratio of two separate runs moves within their own step times: the factors that take it to
    the run's slow steps against the baseline's fast ones (p90 vs p10) and the reverse. Not a confidence interval:
    the spread within each run, which a load that changed between the runs does not show."""
    keys = ("train_step_seconds_p10", "train_step_seconds_median", "train_step_seconds_p90")
    mine, theirs = [tuple(r.get(k) for k in keys) for r in (run, base)]
    if not all(is_number(v) and v > 0 for v in (*mine, *theirs)):
        return None
    (my_fast, my_median, my_slow), (base_fast, base_median, base_slow) = mine, theirs
    return (my_median / my_slow) * (base_fast / base_median), (my_median / my_fast) * (base_slow / base_median)


def _alternated(run: dict, base: dict, measured) -> dict | None:
    """The ratio of a speed measurement that timed this run's backend beside its baseline's, for its model on its
    device; None when there is none."""
    for m in measured:
        backends = m.get("backends", {})
        if (m.get("model"), m.get("device")) != (run.get("model"), run.get("device")):
            continue
        if m.get("baseline") != base.get("backend_effective") or run.get("backend_effective") not in backends:
            continue
        row = backends[run["backend_effective"]]
        if run["backend_effective"] == m["baseline"]:
            return {"speed_x": 1.0, "speed_x_lo": 1.0, "speed_x_hi": 1.0, "speed_source": ALTERNATED}
        from sumexp.speed.cli import PROCESSES  # the speed file's contract is its writer's

        if m.get("mode") == PROCESSES:  # sumexp.speed's fallback: one process per backend in turns
            why = f"; {m['fallback']}" if m.get("fallback") else ""
            rounds = f"{m.get('rounds')} rounds of one process per backend in turns{why}"
        else:
            rounds = f"{m.get('rounds')} rounds in turns in one process"
        rounds += f", load average {m['load_average']['before'][0]:.2f}"
        return {
            "speed_x": row["speed_x"],
            "speed_x_lo": row["speed_x_lo"],
            "speed_x_hi": row["speed_x_hi"],
            "speed_source": ALTERNATED,
            "speed_note": f"python -m sumexp.speed ({rounds}), not this run's own tokens/s",
        }
    return None


def _loaded(run: dict) -> bool:
    load, cpus = run.get("train_load_average"), run.get("cpu_count")
    return is_number(load) and is_number(cpus) and load > cpus


def _dev_set(run: dict):
    examples = run.get("examples")
    return examples.fingerprint if examples is not None else None


def is_number(value) -> bool:
    """A finite real number: what a recorded figure must be to enter a ratio or a table cell (a bool, NaN or an
    infinity is a damaged record, not a figure)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
