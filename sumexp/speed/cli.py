"""`python -m sumexp.speed model=NAME backend=full,lora,qlora [overrides] [--rounds N] [--steps N] [--warmup N]
[--threads N] [--out DIR]`: the training speed of several backends of one model, timed in alternation.

The first backend is the baseline. Writes speed-<model>-<device>.json into --out (default: the current folder):
put it in a sweep folder and `python -m sumexp.report` shows its ratios, with their intervals, as the speed
column for the runs of that model on that device. docs/PERFORMANCE.md has measured examples.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from sumexp.errors import UserError, run_cli

PROG = "sumexp.speed"


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
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for speed-<model>-<device>.json")
    args = parser.parse_args(argv)
    return run_cli(lambda: measure(args), PROG)


def measure(args) -> dict:
    for name in ("rounds", "steps", "threads"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name} {getattr(args, name)}: must be at least 1")
    if args.rounds < 2:
        raise UserError(f"--rounds {args.rounds}: an interval needs at least 2 rounds; e.g. --rounds 10")
    backends, configs = compose_configs(args.overrides)
    import torch

    torch.set_num_threads(args.threads)
    from sumexp.results.files import write_json
    from sumexp.results.resources import device_name
    from sumexp.speed.alternate import time_backends
    from sumexp.speed.summary import summarize

    load_before = os.getloadavg()
    timed = time_backends(configs, args.rounds, args.steps, args.warmup)
    baseline = backends[0]
    measured = summarize(timed.step_seconds, timed.tokens_per_step, baseline)
    model, device = configs[baseline].model.name, device_name()
    result = {
        "model": model,
        "device": device,
        "baseline": timed.effective[baseline],
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "warmup_rounds": args.warmup,
        "threads": args.threads,
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
        "batches": timed.batches,
        "trained_tokens_per_step": timed.tokens_per_step,
        "backends": {
            timed.effective[name]: {
                "requested": name,
                **({"note": timed.notes[name]} if name in timed.notes else {}),
                "model_state_bytes": timed.model_state_bytes[name],
                **measured[name],
            }
            for name in backends
        },
    }
    path = Path(args.out) / f"speed-{_slug(model)}-{_slug(device)}.json"
    write_json(path, result)
    print(_table(result) + f"sumexp.speed: {path}")
    return result


def compose_configs(overrides: list[str]) -> tuple[list[str], dict]:
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
    if len(backends) < 2 or len(set(backends)) != len(backends):
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
    lines = [
        f"sumexp.speed: {result['model']} on {result['device']}, {result['rounds']} rounds x "
        f"{result['steps_per_round']} steps in turns ({result['warmup_rounds']} warm-up), {result['threads']} "
        f"thread(s), load average {result['load_average']['before'][0]:.2f} -> {result['load_average']['after'][0]:.2f}",
        f"{'backend':<10} {'ran':<8} {'median step s':>14} {'trained tokens/s':>17}  speed × [95% CI over rounds]",
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
