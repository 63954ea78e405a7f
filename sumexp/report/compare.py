"""Each run against its baseline: ROUGE Δ with a paired bootstrap, memory % of one kind, speed × on one device.

A figure is only ever divided by one of the same kind from the same device; anything else is None with
a note saying why, never a mixed ratio.
"""

from __future__ import annotations

import numbers

from sumexp.run import record as run_record
from sumexp.score import bootstrap

CPU = "cpu"
MODEL_STATE, TRAIN_PEAK = "model state", "train peak"  # the two memory kinds a ratio may use


def choose_baseline(run: dict, runs: list[dict], backend: str) -> dict | None:
    """The completed `backend` run of the same model, preferring the same dev set, then device, then seed."""
    candidates = [
        r
        for r in runs
        if r["status"] == run_record.COMPLETED
        and r.get("model") == run.get("model")
        and r.get("backend_effective") == backend
    ]
    if not candidates:
        return None

    def closeness(other):
        return (
            _dev_set(other) == _dev_set(run),
            other.get("device") == run.get("device"),
            other.get("seed") == run.get("seed"),
        )

    return max(candidates, key=closeness)  # max keeps the first of equals: job order


def rouge_delta(run: dict, base: dict | None) -> dict:
    """Δ ROUGE mean (run - baseline) over the same dev examples, with its paired 95% interval, or a note."""
    if base is None:
        return {"delta_note": "no baseline run"}
    mine, theirs = run.get("examples"), base.get("examples")
    if mine is None or theirs is None or mine.scores is None or theirs.scores is None:
        return {"delta_note": "no per-example ROUGE in dev_predictions.csv"}
    if mine.fingerprint != theirs.fingerprint:
        return {"delta_note": "baseline scored another dev set: not paired"}
    paired = bootstrap.paired_difference(mine.scores["rouge_mean"], theirs.scores["rouge_mean"])
    return {
        "delta": paired["delta"],
        "delta_lo": paired["lo"],
        "delta_hi": paired["hi"],
        "delta_significant": paired["significant"],
    }


def memory(run: dict) -> tuple[str | None, float | None]:
    """(kind, MB): model-state memory on a CPU, the training peak on a GPU; (kind, None) when not recorded."""
    device = run.get("device")
    if device is None:
        return None, None
    if device == CPU:
        stored = run.get("memory_model_state_bytes")
        return MODEL_STATE, stored / 1e6 if _number(stored) else None
    peak = run.get("memory_train_peak_mb")
    return TRAIN_PEAK, peak if _number(peak) else None


def memory_ratio(run: dict, base: dict | None) -> dict:
    """Memory in % of the baseline's, of the same kind on the same device, else None and why."""
    kind, value = memory(run)
    out = {"memory_kind": kind, "memory_mb": value, "memory_pct": None}
    if base is None:
        return {**out, "memory_note": "no baseline run"}
    base_kind, base_value = memory(base)
    if run.get("device") != base.get("device"):
        return {**out, "memory_note": f"n/a: baseline ran on {base.get('device')}, this on {run.get('device')}"}
    if value is None or base_value is None or kind != base_kind or base_value <= 0:
        return {**out, "memory_note": f"n/a: {kind or 'memory'} not recorded"}
    return {**out, "memory_pct": 100 * value / base_value}


def speed_ratio(run: dict, base: dict | None) -> dict:
    """Trained tokens/s as a multiple of the baseline's, on the same device and model family only."""
    if base is None:
        return {"speed_x": None, "speed_note": "no baseline run"}
    for key in ("device", "family"):
        if run.get(key) != base.get(key):
            return {"speed_x": None, "speed_note": f"n/a: {key} {run.get(key)} vs baseline's {base.get(key)}"}
    mine, theirs = run.get("train_trained_tokens_per_second"), base.get("train_trained_tokens_per_second")
    if not (_number(mine) and _number(theirs)) or theirs <= 0:
        return {"speed_x": None, "speed_note": "n/a: trained tokens/s not recorded"}
    loaded = [r["run"] for r in (run, base) if _loaded(r)]
    note = f"loaded machine ({', '.join(dict.fromkeys(loaded))}: load average above its CPU count)" if loaded else None
    return {"speed_x": mine / theirs, "speed_loaded": bool(loaded), "speed_note": note}


def _loaded(run: dict) -> bool:
    load, cpus = run.get("train_load_average"), run.get("cpu_count")
    return _number(load) and _number(cpus) and load > cpus


def _dev_set(run: dict):
    examples = run.get("examples")
    return examples.fingerprint if examples is not None else None


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value  # NaN != NaN
