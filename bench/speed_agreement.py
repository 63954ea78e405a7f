"""Does speed × survive a shared machine? `python -m sumexp.speed` calm and beside busy loops, and separate runs.

Run: python bench/speed_agreement.py [--models tiny_t5,tiny_llama] [--rounds 30] [--steps 3] [--busy 2] [--quick]

For each model, under two conditions, one after the other: the machine as it is, then with --busy processes
spinning (`while True: pass`) beside it. Under each: `python -m sumexp.speed model=M backend=full,lora,qlora`
(the backends built in one process, their steps timed in turns), and three separate runs `python -m sumexp
model=M backend=B optim.max_steps=N optim.evaluate=false`, one after another, whose trained tokens/s are
divided as the report divides them, with the spread of both runs' step times (p10–p90, sumexp/report/
compare.py). The verdict (docs/PERFORMANCE.md §13): the in-turns ratios of the two conditions agree within
10% and their intervals overlap. Not part of `make bench`: it takes about 15 minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from bench.common import OFFLINE, PYTHON, REPO, header, parser, table  # noqa: E402

AGREE = 0.10  # the two conditions' in-turns ratios within 10% of each other
BACKENDS = ("full", "lora", "qlora")


def main() -> int:
    p = parser(__doc__, repeat=1)
    p.add_argument("--models", default="tiny_t5,tiny_llama")
    p.add_argument("--rounds", type=int, default=30, help="timed rounds of python -m sumexp.speed (default 30)")
    p.add_argument("--steps", type=int, default=3, help="steps per backend and round (default 3)")
    p.add_argument("--run-steps", type=int, default=30, help="optimizer steps of each separate run (default 30)")
    p.add_argument("--busy", type=int, default=2, help="busy-loop processes in the second condition (default 2)")
    p.add_argument("--train-samples", type=int, default=64)
    args = p.parse_args()
    if args.quick:
        args.models, args.rounds, args.steps, args.run_steps, args.train_samples = "tiny_t5", 2, 1, 2, 8
    header("Speed × in turns and from separate runs, calm and beside busy loops", args)
    models = args.models.split(",")
    work = Path(tempfile.mkdtemp(prefix="sumexp-speed-agreement-"))
    results = {}
    for condition, busy in (("as it is", 0), (f"{args.busy} busy loops", args.busy)):
        loops = [subprocess.Popen([PYTHON, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            load = os.getloadavg()[0]
            for model in models:
                results[condition, model] = measure(model, args, work / f"{busy}" / model) | {"load": load}
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
    return report(results, models, args)


def measure(model: str, args, out: Path) -> dict:
    """The in-turns file, and each backend's separate-run ratio and step-time spread against full."""
    out.mkdir(parents=True)
    data = [f"data.max_train_samples={args.train_samples}"]
    speed = [PYTHON, "-m", "sumexp.speed", f"model={model}", f"backend={','.join(BACKENDS)}", *data]
    speed += ["--rounds", str(args.rounds), "--steps", str(args.steps), "--out", str(out)]
    _run(speed)
    [measured] = [json.loads(p.read_text()) for p in out.glob("speed-*.json")]
    runs = {}
    for backend in BACKENDS:
        run_dir = out / backend
        command = [PYTHON, "-m", "sumexp", f"model={model}", f"backend={backend}", *data]
        command += [f"optim.max_steps={args.run_steps}", "optim.evaluate=false", f"hydra.run.dir={run_dir}"]
        _run(command)
        runs[backend] = {**json.loads((run_dir / "metrics.json").read_text()), "run": backend}
    from sumexp.report.compare import speed_ratio

    separate = {}
    for backend in BACKENDS[1:]:
        ratio = speed_ratio(runs[backend], runs["full"])
        separate[backend] = (ratio["speed_x"], ratio.get("speed_spread_lo"), ratio.get("speed_spread_hi"))
    return {"turns": measured["backends"], "separate": separate}


def report(results: dict, models: list[str], args) -> int:
    calm, busy = dict.fromkeys(c for c, _ in results)
    rows, failed = [], []
    for model in models:
        for backend in BACKENDS[1:]:
            a, b = results[calm, model]["turns"][backend], results[busy, model]["turns"][backend]
            gap = abs(a["speed_x"] - b["speed_x"]) / min(a["speed_x"], b["speed_x"])
            overlap = a["speed_x_lo"] <= b["speed_x_hi"] and b["speed_x_lo"] <= a["speed_x_hi"]
            if gap > AGREE or not overlap:
                failed.append(f"{model} {backend}")
            rows.append(
                [model, backend, _turns(a), _turns(b), f"{gap:.0%}", "yes" if overlap else "no"]
                + [_separate(results[c, model]["separate"][backend]) for c in (calm, busy)]
            )
    loads = ", ".join(f"{c}: {results[c, models[0]]['load']:.1f}" for c in (calm, busy))
    print(f"load average (1 min) at the start of each condition: {loads}")
    print(f"{args.rounds} rounds x {args.steps} steps in turns; separate runs of {args.run_steps} steps each")
    head = ["model", "backend", f"in turns, {calm}", f"in turns, {busy}", "apart", "overlap"]
    table(head + [f"separate runs, {calm}", f"separate runs, {busy}"], rows)
    if args.quick:
        print("quick mode: no verdict")
        return 0
    if failed:
        print(f"NOT MET: in-turns ratios more than {AGREE:.0%} apart or intervals apart for {', '.join(failed)}")
        return 1
    print(f"met: every in-turns ratio within {AGREE:.0%} of the other condition's, intervals overlapping")
    return 0


def _turns(row: dict) -> str:
    return f"{row['speed_x']:.2f} [{row['speed_x_lo']:.2f}, {row['speed_x_hi']:.2f}]"


def _separate(ratio: tuple) -> str:
    x, lo, hi = ratio
    return f"{x:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None else "")


def _run(command: list[str]) -> None:
    done = subprocess.run(command, cwd=REPO, env={**os.environ, **OFFLINE}, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(command[1:5])} ... failed: {' | '.join(tail)}")


if __name__ == "__main__":
    raise SystemExit(main())
