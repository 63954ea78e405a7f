"""Before submitting: can any node of the partition ever run one job of the sweep, and for long enough?

SLURM accepts a job larger than every node of its partition and keeps it pending for ever (reason
`PartitionConfig` or `Resources`), without a word to the sweep. `sinfo` says what the nodes have.
It also accepts a time limit that leaves no time before the signal to save (`signal_delay_s` before it).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from sumexp.errors import refuse


@dataclass
class Node:
    partition: str
    cpus: int
    mem_mb: int
    gpus: int


# `--signal=...@delay`: "the signal may be sent up to 60 seconds earlier than specified" (sbatch(1)).
SIGNAL_EARLY_S = 60


def refuse_short_time_limit(params: dict) -> None:
    """One line and exit 2 when SLURM's signal to save could come before an attempt has trained at all:
    each attempt would be stopped within seconds of its start and requeued until max_num_timeout."""
    problem = short_time_limit(params)
    if problem:
        refuse(problem)


def short_time_limit(params: dict) -> str | None:
    timeout_min, delay_s = params.get("timeout_min"), params.get("signal_delay_s", 120)
    if timeout_min is None or timeout_min * 60 - delay_s > SIGNAL_EARLY_S:
        return None
    return (
        f"hydra.launcher.timeout_min={timeout_min} ({timeout_min * 60:g} s) leaves no time before "
        f"hydra.launcher.signal_delay_s={delay_s} (SLURM signals the job to save that long before its time limit, "
        f"and up to {SIGNAL_EARLY_S} s earlier): raise timeout_min above "
        f"{(delay_s + SIGNAL_EARLY_S) / 60:g} or lower signal_delay_s"
    )


def refuse_unfit(params: dict) -> None:
    """One line and exit 2 when no node of the job's partition has what one job asks for."""
    nodes = partition_nodes(params.get("partition"))
    if nodes is None:  # no sinfo, or it did not answer: let SLURM decide
        return
    problem = unfit(params, nodes)
    if problem:
        refuse(problem)


def unfit(params: dict, nodes: list[Node]) -> str | None:
    """Why no node in `nodes` can run the job `params` describe (hydra.launcher keys), or None when one can."""
    partition = params.get("partition")
    if not nodes:
        return (
            f"hydra.launcher.partition={partition}: SLURM has no such partition; choose one that `sinfo` lists"
            if partition
            else "hydra.launcher.partition: SLURM has no default partition; set one that `sinfo` lists"
        )
    asked = {
        "cpus_per_task": (params.get("cpus_per_task") or 1) * (params.get("tasks_per_node") or 1),
        "mem_gb": params.get("mem_gb") or 0,
        "gpus_per_node": params.get("gpus_per_node") or 0,
    }
    if any(_fits(asked, node) for node in nodes):
        return None
    most = {
        "cpus_per_task": max(n.cpus for n in nodes),
        "mem_gb": max(n.mem_mb for n in nodes) // 1024,
        "gpus_per_node": max(n.gpus for n in nodes),
    }
    over = [key for key in asked if asked[key] > most[key]] or list(asked)  # none too big alone: no node has all
    shown = ", ".join(_asked_keys(key, params) for key in over)
    offer = f"{most['cpus_per_task']} CPUs, {most['mem_gb']} GB and {most['gpus_per_node']} GPUs"
    where = f"partition {nodes[0].partition.rstrip('*')}"
    return (
        f"{shown}: no node of {where} could ever run this job (at most {offer} per node); "
        f"ask for less, or choose another hydra.launcher.partition"
    )


def _asked_keys(key: str, params: dict) -> str:
    """`hydra.launcher.mem_gb=16`; the CPUs a job asks for are cpus_per_task for each of its tasks_per_node."""
    shown = f"hydra.launcher.{key}={params.get(key)}"
    tasks = params.get("tasks_per_node") or 1
    if key == "cpus_per_task" and tasks > 1:
        cpus = (params.get("cpus_per_task") or 1) * tasks
        shown = f"hydra.launcher.tasks_per_node={tasks} × {shown} ({cpus} CPUs)"
    return shown


def _fits(asked: dict, node: Node) -> bool:
    return (
        asked["cpus_per_task"] <= node.cpus
        and asked["mem_gb"] * 1024 <= node.mem_mb
        and asked["gpus_per_node"] <= node.gpus
    )


def partition_nodes(partition: str | None) -> list[Node] | None:
    """The kinds of node in `partition` (the default one when None), from `sinfo`; None when sinfo fails."""
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%P|%c|%m|%G"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return [
        node
        for node in map(parse_line, out.stdout.splitlines())
        if node is not None and (node.partition.rstrip("*") == partition if partition else node.partition.endswith("*"))
    ]


def parse_line(line: str) -> Node | None:
    """`debug*|48|191000|gpu:a100:4(S:0-1),mps:100` -> Node; None for a line it cannot read."""
    try:
        name, cpus, mem, gres = line.strip().split("|")
        return Node(name, _number(cpus), _number(mem), _gpus(gres))
    except ValueError:
        return None


def _number(text: str) -> int:
    return int(re.match(r"\d+", text).group()) if re.match(r"\d+", text) else 0


def _gpus(gres: str) -> int:
    """GPUs per node in a GRES list: `gpu:4`, `gpu:a100:4(S:0-1)`; `(null)` is none."""
    total = 0
    for item in re.sub(r"\([^)]*\)", "", gres).split(","):
        parts = item.split(":")
        if parts[0] == "gpu" and len(parts) >= 2 and parts[-1].isdigit():
            total += int(parts[-1])
    return total
