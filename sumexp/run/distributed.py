"""Data-parallel training from SLURM's environment: a job with several tasks trains as one DDP group.

submitit's TorchDistributedEnvironment turns SLURM's variables (SLURM_PROCID, SLURM_NTASKS, the node
list, ...) into the env:// ones torch.distributed reads; the HF Trainer then wraps the model in DDP,
shards the batches and averages the gradients. Only rank 0 writes the run's files.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def slurm_task_count() -> int:
    """How many tasks this SLURM job step has (1 outside SLURM, or outside a submitit job)."""
    if os.environ.get("SUBMITIT_EXECUTOR") != "slurm":
        return 1
    return int(os.environ.get("SLURM_NTASKS", "1"))


def setup_distributed() -> int:
    """Export the env:// variables when the job has several tasks; returns the world size."""
    world_size = slurm_task_count()
    if world_size <= 1:
        return 1
    from submitit.helpers import TorchDistributedEnvironment

    # One GPU per task is picked by LOCAL_RANK (the Trainer's cuda:<local_rank>), so every task keeps
    # seeing all of the node's GPUs. overwrite: a MASTER_PORT set by the user is read, then re-exported.
    env = TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
    if not _has_cuda():
        os.environ["ACCELERATE_USE_CPU"] = "true"  # accelerate then builds a gloo group on CPUs
    log.info(
        "data parallel: rank %d of %d (local rank %d), master %s:%d",
        env.rank,
        env.world_size,
        env.local_rank,
        env.master_addr,
        env.master_port,
    )
    return world_size


def is_main_process() -> bool:
    """Rank 0 (or a run that is not distributed): the one process that writes run files.

    Also right before setup_distributed has exported RANK (Hydra's callbacks run first): a SLURM task's
    rank is then its SLURM_PROCID.
    """
    if "RANK" in os.environ:
        return int(os.environ["RANK"]) == 0
    return slurm_task_count() <= 1 or int(os.environ.get("SLURM_PROCID", "0")) == 0


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
