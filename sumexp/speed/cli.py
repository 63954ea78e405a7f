"""`python -m sumexp.speed model=NAME backend=full,lora,qlora [overrides] [--rounds N] [--steps N] [--warmup N]
[--threads N] [--processes] [--process-rounds N] [--out DIR]`: the training speed of several backends of one model,
timed in alternation.

The first backend is the baseline. Writes speed-<model>-<device>.json into --out (default: the current folder):
put it in a sweep folder and `python -m sumexp.report` shows its ratios, with their intervals, as the speed
column for the runs of that model on that device. docs/PERFORMANCE.md has measured examples.

Two modes, named in the file's `mode`:
- "in turns, one process" (the default): every backend built side by side in this process, their steps timed in
  turns on the same batches, --rounds times (sumexp/speed/alternate.py); the interval is a bootstrap over rounds.
- "alternating processes": one process per backend, in turns, --process-rounds times (round 1: full, lora,
  qlora, each in a process of its own; round 2 again ...), each timing --steps steps on the same batches after
  --warmup untimed passes (sumexp/speed/processes.py). Chosen with --processes, or taken, with one line saying
  why, when a backend cannot be built beside the others for memory. Each ratio then comes from separate
  processes and carries the spread of both backends' step times: its interval is a bootstrap over the process
  rounds and, within them, the steps (sumexp/speed/summary.py; docs/statistics.md). `order` lists the backends in
  the order their processes ran.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from sumexp.errors import UserError, run_cli, say

PROG = "sumexp.speed"
IN_TURNS, PROCESSES = "in turns, one process", "alternating processes"  # the file's "mode"
INTERVALS = {
    IN_TURNS: "95% percentile bootstrap over rounds, the backends' times of a round kept together",
    PROCESSES: "95% percentile bootstrap over process rounds (a round's processes kept together), then over the "
    "steps within each process, each backend's apart",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}", description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides as for python -m sumexp; backend=a,b,c")
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds, each backend in turn (default 10)")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per backend and round (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: a second thread on a shared CPU times contention)",
    )
    parser.add_argument(
        "--processes",
        action="store_true",
        help="one process per backend, alternating, instead of all in this one (taken anyway when a backend "
        "cannot be built beside the others for memory)",
    )
    parser.add_argument(
        "--process-rounds",
        type=int,
        default=3,
        help="rounds of one process per backend, when timed in processes (default 3: each process pays the imports)",
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for speed-<model>-<device>.json")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)  # one backend; its JSON here
    args = parser.parse_args(argv)
    return run_cli(lambda: measure(args), PROG)


def measure(args) -> dict:
    for name in ("rounds", "steps", "threads", "process_rounds"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be at least 1")
    if args.child is not None:
        return _child(args)
    if args.rounds < 2:
        raise UserError(f"--rounds {args.rounds}: an interval needs at least 2 rounds; e.g. --rounds 10")
    if args.process_rounds < 2:
        raise UserError(f"--process-rounds {args.process_rounds}: an interval needs at least 2; e.g. 3")
    backends, configs = compose_configs(args.overrides)
    load_before = os.getloadavg()
    fallback = None
    if not args.processes:
        from sumexp.speed.alternate import NotBeside

        try:
            return _in_turns(args, backends, configs, load_before)
        except NotBeside as err:
            fallback = str(err)
        _release()  # what was built went with the exception
        say(
            f"{PROG}: {fallback}; falling back to one process per backend, alternating "
            f"({args.process_rounds} process rounds)"
        )
    return _in_processes(args, backends, configs, load_before, fallback)


def _in_turns(args, backends: list[str], configs: dict, load_before) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from sumexp.results.resources import device_name
    from sumexp.speed.alternate import time_backends
    from sumexp.speed.summary import summarize

    timed = time_backends(configs, args.rounds, args.steps, args.warmup)
    baseline = backends[0]
    measured = summarize(timed.step_seconds, timed.tokens_per_step, baseline)
    result = {
        "model": configs[baseline].model.name,
        "base": timed.base,  # what the backends' weights started from, as a run's base_model says
        "device": device_name(),
        "baseline": timed.effective[baseline],
        "mode": IN_TURNS,
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "warmup_rounds": args.warmup,
        "threads": args.threads,
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
        "batches": timed.batches,
        "trained_tokens_per_step": timed.tokens_per_step,
        "interval": INTERVALS[IN_TURNS],
        "backends": _rows(backends, timed, measured),
    }
    return _write(args, result)


def _in_processes(args, backends: list[str], configs: dict, load_before, fallback: str | None) -> dict:
    from sumexp.checks import check_config
    from sumexp.speed.processes import time_in_processes
    from sumexp.speed.summary import summarize_processes

    for cfg in configs.values():
        check_config(cfg)  # here, not in the first process
    timed = time_in_processes(args.overrides, backends, args.process_rounds, args.steps, args.warmup, args.threads)
    baseline = backends[0]
    measured = summarize_processes(timed.step_seconds, timed.tokens_per_step, baseline)
    result = {
        "model": configs[baseline].model.name,
        "base": timed.base,  # what the backends' weights started from, as a run's base_model says
        "device": timed.device,
        "baseline": timed.effective[baseline],
        "mode": PROCESSES,
        "fallback": fallback,  # why it is not in turns in one process; null when --processes asked for it
        "rounds": args.process_rounds,  # process rounds: one process per backend in each
        "steps_per_round": args.steps,  # per process
        "warmup_rounds": args.warmup,  # untimed passes in each process
        "threads": args.threads,
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
        "batches": timed.batches,
        "trained_tokens_per_step": timed.tokens_per_step,
        "interval": INTERVALS[PROCESSES],
        "order": timed.order,
        "backends": _rows(backends, timed, measured),
    }
    return _write(args, result)


def _child(args) -> dict:
    """One of the processes that alternate: its one backend built and timed, each step's seconds into --child."""
    backends, configs = compose_configs(args.overrides, at_least=1)
    if len(backends) != 1:
        raise UserError(f"--child: one backend, not {', '.join(backends)}")
    import torch

    torch.set_num_threads(args.threads)
    from sumexp.results.files import write_json
    from sumexp.speed.alternate import time_alone

    result = time_alone(backends[0], configs[backends[0]], args.steps, args.warmup)
    write_json(args.child, result)
    return result


def _rows(backends: list[str], timed, measured: dict) -> dict:
    return {
        timed.effective[name]: {
            "requested": name,
            **({"note": timed.notes[name]} if name in timed.notes else {}),
            "model_state_bytes": timed.model_state_bytes[name],
            **measured[name],
        }
        for name in backends
    }


def _write(args, result: dict) -> dict:
    from sumexp.results.files import write_json

    path = Path(args.out) / f"speed-{_slug(result['model'])}-{_slug(result['device'])}.json"
    write_json(path, result)
    print(_table(result) + f"{PROG}: {path}")
    return result


def _release() -> None:
    """The memory of the backends built in this process, back to the device before the processes start."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def compose_configs(overrides: list[str], at_least: int = 2) -> tuple[list[str], dict]:
    """The backends asked for (backend=a,b,c; the first is the baseline) and each one's run config, composed as
    python -m sumexp composes it from the same overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from sumexp.package_data import CONF_DIR
    from sumexp.schema import register_configs

    chosen = [o.split("=", 1)[1] for o in overrides if o.startswith("backend=")]
    if not chosen:
        raise UserError("backend=: give the backends to time, the baseline first, e.g. backend=full,lora,qlora")
    backends = [b.strip() for b in chosen[-1].split(",") if b.strip()]
    known = sorted(p.stem for p in (Path(CONF_DIR) / "backend").glob("*.yaml"))
    unknown = [b for b in backends if b not in known]
    if unknown:
        raise UserError(
            f"backend={','.join(backends)}: no backend {', '.join(unknown)}; choose from {', '.join(known)}"
        )
    if len(backends) < at_least or len(set(backends)) != len(backends):
        raise UserError(f"backend={chosen[-1]}: give two or more different backends, the baseline first")
    rest = [o for o in overrides if not o.startswith("backend=")]
    register_configs()
    configs = {}
    for backend in backends:
        try:
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
                configs[backend] = compose(config_name="config", overrides=[*rest, f"backend={backend}"])
        except (HydraException, OmegaConfBaseException) as err:
            raise UserError(f"{' '.join(rest)}: {str(err).splitlines()[0]}") from None
    return backends, configs


def _table(result: dict) -> str:
    if result["mode"] == PROCESSES:
        how = (
            f"{result['rounds']} process rounds x {result['steps_per_round']} steps, one process per backend "
            f"alternating ({result['warmup_rounds']} warm-up pass(es) in each)"
        )
        over = "process rounds and steps"
    else:
        how = f"{result['rounds']} rounds x {result['steps_per_round']} steps in turns ({result['warmup_rounds']} warm-up)"
        over = "rounds"
    lines = [
        f"sumexp.speed: {result['model']} on {result['device']}, {how}, {result['threads']} "
        f"thread(s), load average {result['load_average']['before'][0]:.2f} -> {result['load_average']['after'][0]:.2f}",
        f"{'backend':<10} {'ran':<8} {'median step s':>14} {'trained tokens/s':>17}  speed × [95% CI over {over}]",
    ]
    for ran, row in result["backends"].items():
        ratio = (
            f"{row['speed_x']:.2f} [{row['speed_x_lo']:.2f}, {row['speed_x_hi']:.2f}]"
            if "speed_x" in row
            else "1.00 (baseline)"
        )
        lines.append(
            f"{row['requested']:<10} {ran:<8} {row['median_step_s']:>14.4f} {row['trained_tokens_per_s']:>17.1f}  {ratio}"
        )
    return "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "-", str(text)).strip("-")
