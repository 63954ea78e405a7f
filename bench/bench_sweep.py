"""A sweep's overhead: a 4-job tiny grid through sumexp's launcher against the same 4 runs one by one.

Run: python bench/bench_sweep.py [--repeat N] [--steps N] [--quick] [--threads N]

One side is `python -m sumexp -m model=tiny_bart,tiny_llama backend=full,lora ...`: the default
launcher (hydra/launcher=local) runs each job in a fresh process, one at a time, and the sweep's
summary callback ends it. The other side is the same 4 jobs as 4 single runs, `python -m sumexp
model=M backend=B ...`, one process each; its time is the sum of their 4 process walls. Both get
the same short training (the overrides below; cache_dir=null, so no run finds another's encoded
splits) and are measured in turns, best of N. The ratio is the sweep's whole wall time over that
sum. Each job's dev_rouge_mean must equal its single run's in every repetition (same config, same
seed): a difference fails the benchmark.

The sweep's wall time is split by when its progress lines reach this process: before the first
job starts (Hydra's start-up, composing every job, the skip checks, the first job's pickle and
spawn), the jobs themselves (a child process each, from spawn to the launcher seeing it end),
between jobs (reading a job's return, pickling and spawning the next) and after the last job (the
summary callback and exit). Target: <= 1.10x.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from bench.common import OFFLINE, PYTHON, REPO, best_of_alternating, fail, header, parser, run_sumexp, table, verdict  # noqa: E402

TARGET = 1.10
GRID = {"model": ("tiny_bart", "tiny_llama"), "backend": ("full", "lora")}
# The launcher's line when a job starts or ends (sumexp/sweep/launching.py Progress): `[3/4] 2_tiny_llama_full: ...`
PROGRESS = re.compile(r"^sumexp: \[\d+/\d+\] \S+: (started$|.*)")


def overrides(steps: int, quick: bool) -> list[str]:
    """The short training every job runs, in the sweep and alone."""
    dev, new_tokens = (2, 8) if quick else (8, 32)
    return [
        f"optim.max_steps={steps}",
        "data.max_train_samples=64",
        f"data.max_eval_samples={dev}",
        "generation.num_beams=1",
        f"generation.max_new_tokens={new_tokens}",
        "cache_dir=null",
    ]


def jobs() -> list[tuple[str, str]]:
    return list(itertools.product(GRID["model"], GRID["backend"]))


def run_with_timeline(cmd: list[str], stderr_file: Path) -> tuple[float, list[tuple[float, str]]]:
    """Run a child from the repository root; (wall seconds, [(seconds since start, stdout line)])."""
    start = time.perf_counter()
    with open(stderr_file, "w") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO, env={**os.environ, **OFFLINE}
        )
        lines = [(time.perf_counter() - start, line.rstrip("\n")) for line in proc.stdout]
        returncode = proc.wait()
    wall = time.perf_counter() - start
    if returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(cmd)} failed (exit {returncode}):\n{stderr_file.read_text()[-3000:]}")
    return wall, lines


def job_metrics(folders) -> dict[tuple[str, str], dict]:
    """{(model, backend): metrics.json} for run folders."""
    out = {}
    for folder in folders:
        metrics = json.loads((Path(folder) / "metrics.json").read_text(encoding="utf-8"))
        out[(metrics["model"], metrics["backend_requested"])] = metrics
    return out


def sweep_side(folder: Path, extra: list[str]) -> tuple[float, dict]:
    """The grid through `python -m sumexp -m`; (wall seconds, what it measured)."""
    grid = [f"{key}={','.join(values)}" for key, values in GRID.items()]
    wall, lines = run_with_timeline(
        [PYTHON, "-m", "sumexp", "-m", f"hydra.sweep.dir={folder}", *grid, *extra],
        folder.parent / f"{folder.name}.stderr",
    )
    metrics = job_metrics(p.parent for p in folder.glob("*/metrics.json"))
    if len({m.get("pid") for m in metrics.values()}) != len(metrics):
        raise SystemExit(f"ERROR: the sweep's jobs did not each run in a process of their own: {folder}")
    return wall, {"wall": wall, "phases": phases(lines, wall), "metrics": metrics}


def singles_side(folder: Path, extra: list[str]) -> tuple[float, dict]:
    """The same jobs as single runs, one process each; (sum of their walls, what they measured)."""
    walls, metrics = {}, {}
    for model, backend in jobs():
        walls[(model, backend)], metrics[(model, backend)] = run_sumexp(
            folder / f"{model}_{backend}", f"model={model}", f"backend={backend}", *extra
        )
    total = sum(walls.values())
    return total, {"wall": total, "walls": walls, "metrics": metrics}


def phases(lines: list[tuple[float, str]], wall: float) -> dict[str, float]:
    """The sweep's wall time split at its progress lines: before, in and between jobs, and after the last."""
    progress = [(t, match.group(1)) for t, line in lines if (match := PROGRESS.match(line))]
    started = [t for t, what in progress if what == "started"]
    ended = [t for t, what in progress if what != "started"]
    if not started or len(started) != len(ended):
        raise SystemExit(
            "benchmark: the sweep's progress lines were not as expected:\n" + "\n".join(line for _, line in lines)
        )
    return {
        "before the first job": started[0],
        "in jobs": sum(e - s for s, e in zip(started, ended)),
        "between jobs": sum(s - e for e, s in zip(ended, started[1:])),
        "after the last job": wall - ended[-1],
    }


def mismatches(measured: list[dict]) -> list[str]:
    """Jobs whose dev_rouge_mean or status differs between any two measured runs, or that did not complete."""
    problems = []
    for job in jobs():
        records = [m["metrics"].get(job, {}) for m in measured]
        statuses = {r.get("status") for r in records}
        scores = {r.get("dev_rouge_mean") for r in records}
        if statuses != {"completed"} or len(scores) != 1:
            problems.append(
                f"{job[0]}/{job[1]}: status {sorted(map(str, statuses))}, dev_rouge_mean {sorted(map(str, scores))}"
            )
    return problems


def main() -> int:
    p = parser(__doc__, repeat=3)
    p.add_argument("--steps", type=int, default=10, help="optimizer steps of every job (default 10)")
    args = p.parse_args()
    repeat, steps = (1, 1) if args.quick else (args.repeat, args.steps)
    header("A sweep's overhead", args)
    extra = overrides(steps, args.quick)
    measured: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="sumexp-bench-") as name:
        tmp, counter = Path(name), itertools.count()

        def keep(side):
            seconds, result = side(tmp / f"{side.__name__}_{next(counter)}", extra)
            measured.append(result)
            return seconds, result

        best = best_of_alternating({"sweep": lambda: keep(sweep_side), "singles": lambda: keep(singles_side)}, repeat)
    print(
        f"{len(jobs())} jobs ({' x '.join('/'.join(v) for v in GRID.values())}), each: {' '.join(extra)}; "
        f"best of {repeat} in turns; each side's process walls from this process"
    )
    report(best["sweep"][1], best["singles"][1])
    met = verdict("sweep / sum of single runs, wall time", best["sweep"][0] / best["singles"][0], TARGET)
    problems = mismatches(measured)
    if problems:
        return fail("sweep jobs and single runs disagree: " + "; ".join(problems))
    print(
        f"dev_rouge_mean: each job's identical in all {len(measured)} measured sweeps and single runs"
        + ("" if met else " (the speed target was MISSED)")
    )
    return 0


def report(sweep: dict, singles: dict) -> None:
    """Per job, then the sweep's wall time by phase against the single runs'."""
    table(
        ["job", "single run: process wall s", "its task s (run_seconds)", "sweep job: task s", "dev_rouge_mean"],
        [
            [
                f"{model}/{backend}",
                singles["walls"][job],
                singles["metrics"][job]["run_seconds"],
                sweep["metrics"][job]["run_seconds"],
                f"{singles['metrics'][job]['dev_rouge_mean']:.4f}",
            ]
            for job in jobs()
            for model, backend in [job]
        ],
    )
    print()
    table(
        ["wall time s", "sweep (one process per job)", f"{len(jobs())} single runs", "difference"],
        [[label, ours, theirs, ours - theirs] for label, ours, theirs in phase_rows(sweep, singles)],
    )


def phase_rows(sweep: dict, singles: dict) -> list[tuple[str, float, float]]:
    """(phase, sweep seconds, single runs' seconds): the rows add up to each side's total."""
    ph = sweep["phases"]
    task = {
        name: sum(m["run_seconds"] for m in side["metrics"].values())
        for name, side in (("sweep", sweep), ("singles", singles))
    }
    return [
        ("before the first job (start-up, composing the jobs, skip checks, spawn)", ph["before the first job"], 0.0),
        ("in jobs: the job processes", ph["in jobs"], singles["wall"]),
        ("  of which the tasks (metrics.json run_seconds)", task["sweep"], task["singles"]),
        (
            "  of which outside the tasks (process start, imports, Hydra, the launcher's poll)",
            ph["in jobs"] - task["sweep"],
            singles["wall"] - task["singles"],
        ),
        ("between jobs (read the return, pickle and spawn the next)", ph["between jobs"], 0.0),
        ("after the last job (end-of-sweep callbacks, exit)", ph["after the last job"], 0.0),
        ("total", sweep["wall"], singles["wall"]),
    ]


if __name__ == "__main__":
    sys.exit(main())
