"""What every benchmark shares: best-of-N timing, child processes, sumexp runs, the table and the verdict.

The machine is often shared, so a ratio is only meaningful between times taken in the same run:
the two sides are measured in turns (A, B, A, B, ...) and each keeps its best time, the one least
disturbed by other processes. Every process runs torch on one thread unless --threads says otherwise:
with two threads on two shared cores, one thread waits for the other whenever another job holds a
core, and the same 40 training steps took anywhere from 6 to 150 s; on one thread, 2.0-2.1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
KO_DEV = DATA / "dialogsum-ko" / "dev.csv"
PYTHON = sys.executable
# Children run offline from the repository root, whatever the caller's directory.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parser(doc: str, repeat: int = 3) -> argparse.ArgumentParser:
    """The options every benchmark has: --repeat (best of N) and --quick (tiny sizes, for the test)."""
    first_line = doc.strip().splitlines()[0]
    p = argparse.ArgumentParser(description=first_line)
    p.add_argument("--repeat", type=int, default=repeat, help=f"best of N runs for each timing (default {repeat})")
    p.add_argument("--quick", action="store_true", help="tiny sizes and one repeat: checks the benchmark runs")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads per process, this one and its children (OMP_NUM_THREADS); 0: torch's default. "
        "Default 1: on a shared machine two threads wait on each other and times vary tenfold",
    )
    return p


def header(title: str, args: argparse.Namespace) -> None:
    """The benchmark's name, the command, the date and the machine, as docs/PERFORMANCE.md quotes them."""
    limit_threads(args.threads)
    print(f"## {title}")
    print(f"command: python {' '.join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])}")
    print(
        f"date: {dt.date.today().isoformat()}  machine: {machine()}  threads per process: {args.threads or 'default'}"
    )
    if args.quick:
        print("QUICK MODE: tiny sizes, one repeat; the numbers below say only that the benchmark runs")


def limit_threads(threads: int) -> None:
    """CPU threads for torch in this process (before torch is imported, or through torch) and its children."""
    if threads <= 0:
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def machine() -> str:
    """CPU model, cores and the load average now (other jobs make every time longer)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, load average {load}"


def best_of_alternating(sides: dict, repeat: int) -> dict:
    """{name: (best seconds, that run's result)} for {name: fn() -> (seconds, result)}, measured in turns."""
    best = {name: (float("inf"), None) for name in sides}
    for _ in range(repeat):
        for name, fn in sides.items():
            seconds, result = fn()
            if seconds < best[name][0]:
                best[name] = (seconds, result)
    return best


def timed(fn):
    """fn() -> (wall seconds, its result)."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_process(
    cmd: list[str], env: dict | None = None, timeout: int = 1800
) -> tuple[float, subprocess.CompletedProcess]:
    """Run a child process from the repository root; (wall seconds, the completed process). A failure stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, **OFFLINE, **(env or {})}, timeout=timeout
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done


def run_sumexp(run_dir: Path, *overrides: str) -> tuple[float, dict]:
    """`python -m sumexp` into run_dir; (process wall seconds, its metrics.json)."""
    seconds, _ = run_process([PYTHON, "-m", "sumexp", f"hydra.run.dir={run_dir}", *overrides])
    return seconds, json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))


def table(headers: list[str], rows: list[list]) -> None:
    """A Markdown table, so it can be pasted into docs/PERFORMANCE.md as printed."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def verdict(what: str, ratio: float, target: float, at_most: bool = True) -> bool:
    """Print `what: ratio (target): met|MISSED` and return whether the target is met."""
    met = ratio <= target if at_most else ratio >= target
    sign = "<=" if at_most else ">="
    print(f"{what}: {ratio:.3f}x (target {sign} {target}x): {'met' if met else 'MISSED'}")
    return met


def fail(message: str) -> int:
    """A correctness check failed (not a speed target): say so on stderr, exit status 1."""
    print(f"ERROR: {message}", file=sys.stderr)
    return 1
