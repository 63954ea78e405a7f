"""One process per backend, alternating: round 1 times full in a process of its own, then lora, then qlora; round 2
again full, lora, qlora; ... Where the backends cannot be built side by side (memory), or with --processes.

Each process is `python -m sumexp.speed ... backend=NAME --child FILE`: it builds its one backend as the in-process
timing does (sumexp/speed/alternate.py `time_alone`), takes the same batches (the same data and seed), times
`--warmup` untimed passes over them and then one timed pass, and writes each step's seconds to FILE. The load of
a moment falls on one backend only, so the ratio carries the spread of both backends' step times over the
process rounds and over the steps within them (summary.py `summarize_processes`)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sumexp.errors import UserError, say


@dataclass
class Processes:
    step_seconds: dict[str, list[list[float]]]  # per backend: each process round's step seconds
    order: list[str]  # the backends in the order their processes ran
    effective: dict[str, str]
    notes: dict[str, str]
    tokens_per_step: float
    batches: str
    model_state_bytes: dict[str, int]
    device: str
    base: str


def time_in_processes(
    overrides: list[str], backends: list[str], rounds: int, steps: int, warmup: int, threads: int
) -> Processes:
    """`overrides`: the command's Hydra overrides without backend=; `backends`: the baseline first."""
    rest = [o for o in overrides if not o.startswith("backend=")]
    seconds: dict[str, list[list[float]]] = {name: [] for name in backends}
    order, results = [], {}
    with tempfile.TemporaryDirectory(prefix="sumexp-speed-") as scratch:
        for round_number in range(1, rounds + 1):
            for name in backends:
                path = Path(scratch) / f"{round_number}-{name}.json"
                argv = [*rest, f"backend={name}", "--steps", str(steps), "--warmup", str(warmup)]
                argv += ["--threads", str(threads), "--child", str(path)]
                status, last_line = run_child(argv)
                if status != 0 or not path.is_file():
                    raise UserError(
                        f"backend={name}: its process (round {round_number} of {rounds}) failed with exit status "
                        f"{status}: {last_line or 'no error message'}"
                    )
                result = json.loads(path.read_text(encoding="utf-8"))
                seconds[name].append([float(s) for s in result["step_seconds"]])
                order.append(name)
                results.setdefault(name, result)
                _same_batches(results, name, result)
                median = statistics.median(seconds[name][-1])
                say(f"sumexp.speed: round {round_number}/{rounds} {name}: median step {median:.4f} s")
    first = results[backends[0]]
    return Processes(
        step_seconds=seconds,
        order=order,
        effective={name: results[name]["effective"] for name in backends},
        notes={name: results[name]["note"] for name in backends if results[name]["note"]},
        tokens_per_step=float(first["tokens_per_step"]),
        batches=first["batches"],
        model_state_bytes={name: int(results[name]["model_state_bytes"]) for name in backends},
        device=first["device"],
        base=first["base"],
    )


def run_child(argv: list[str]) -> tuple[int, str]:
    """`python -m sumexp.speed ARGV` in a process of its own: its exit status and the last line it wrote to
    stderr (its error, when it failed)."""
    done = subprocess.run(
        [sys.executable, "-m", "sumexp.speed", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return done.returncode, lines[-1] if lines else ""


def _same_batches(results: dict, name: str, result: dict) -> None:
    """Every process must have timed the same batches, or the ratio compares different work."""
    first = next(iter(results.values()))
    if result["batches"] != first["batches"] or result["device"] != first["device"]:
        raise UserError(
            f"backend={name}: its process timed other batches or another device ({result['batches']} on "
            f"{result['device']}) than {first['backend']}'s ({first['batches']} on {first['device']})"
        )
