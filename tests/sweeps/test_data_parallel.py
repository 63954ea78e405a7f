"""Data parallel from SLURM's environment: two CPU processes (gloo) train like one over the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from sumexp.run.distributed import is_main_process, setup_distributed, slurm_task_count
from tests.support.cli import QUICK_NO_CHECKPOINT
from tests.support.limits import hang_limit
from tests.support.repo import REPO

pytestmark = pytest.mark.serial  # two ranks meet within a time limit

# 32 samples, one epoch: 4 optimizer steps at a global batch of 8 (one process x 8, or two x 4).
TRAIN = ["data.max_train_samples=32", "optim.max_steps=-1", "optim.epochs=1", "optim.early_stopping_patience=null"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def slurm_env(rank: int, tasks: int, port: int) -> dict:
    """What srun gives each task of a one-node job step, as submitit's job environment reads it."""
    return {
        "SUBMITIT_EXECUTOR": "slurm",
        "SLURM_JOB_ID": "42",
        "SLURM_NTASKS": str(tasks),
        "SLURM_JOB_NUM_NODES": "1",
        "SLURM_PROCID": str(rank),
        "SLURM_LOCALID": str(rank),
        "SLURM_JOB_NODELIST": "localhost",
        "MASTER_PORT": str(port),
    }


def launch(run_dir, batch_size: int, env_per_rank: list[dict]):
    args = [
        sys.executable,
        "-m",
        "sumexp",
        f"hydra.run.dir={run_dir}",
        *QUICK_NO_CHECKPOINT,
        *TRAIN,
        f"optim.batch_size={batch_size}",
    ]
    # Each rank writes to its own files: pipes read one after the other would let the second rank block
    # on a full pipe while the first waits for it in a collective, and the pair would never finish.
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    logs = [
        (run_dir.parent / f"{run_dir.name}.rank{i}.out", run_dir.parent / f"{run_dir.name}.rank{i}.err")
        for i in range(len(env_per_rank))
    ]
    procs = []
    for extra, (out_path, err_path) in zip(env_per_rank, logs):
        with open(out_path, "w") as out, open(err_path, "w") as err:
            procs.append(
                subprocess.Popen(
                    args,
                    cwd=REPO,
                    stdout=out,
                    stderr=err,
                    text=True,
                    env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **extra},
                )
            )
    try:
        for proc in procs:
            proc.wait(timeout=hang_limit(900))
    finally:  # a rank left waiting for a peer that failed would otherwise outlive the test
        for proc in procs:
            proc.kill()
    outputs = [(out_path.read_text(), err_path.read_text()) for out_path, err_path in logs]
    for proc, (_out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    return outputs


@pytest.mark.slow
def test_two_processes_take_the_same_steps_as_one_over_the_same_global_batch(tmp_path):
    port = free_port()
    outputs = launch(tmp_path / "ddp", batch_size=4, env_per_rank=[slurm_env(r, 2, port) for r in (0, 1)])
    launch(tmp_path / "single", batch_size=8, env_per_rank=[{}])
    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    single = json.loads((tmp_path / "single" / "metrics.json").read_text())
    assert (ddp["world_size"], single["world_size"]) == (2, 1)
    # Unsharded, each of the two processes would take 8 steps of 4; sharded, the group takes 4 steps of 2 x 4.
    assert ddp["train_steps"] == single["train_steps"] == 4
    assert ddp["epochs"] == single["epochs"] == 1.0
    assert ddp["status"] == "completed"
    rank0_out, rank1_out = (out for out, _ in outputs)
    assert "sumexp: tiny_bart / full" in rank0_out and "sumexp: tiny_bart" not in rank1_out  # rank 0 alone reports


def clear_env(monkeypatch, *keys):
    """Unset the keys for this test; whatever the code under test exports is removed again afterwards."""
    for key in keys:
        monkeypatch.setenv(key, "")  # records the value to restore (or that there was none)
        monkeypatch.delenv(key)


DIST_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "ACCELERATE_USE_CPU")


def test_outside_slurm_nothing_is_distributed(monkeypatch):
    clear_env(monkeypatch, "SUBMITIT_EXECUTOR", *DIST_KEYS)
    monkeypatch.setenv("SLURM_NTASKS", "4")  # a SLURM step not started by submitit: left alone
    assert slurm_task_count() == 1 and setup_distributed() == 1 and is_main_process()


def test_slurm_tasks_become_torch_distributed_variables(monkeypatch):
    clear_env(monkeypatch, *DIST_KEYS)
    for key, value in slurm_env(rank=1, tasks=2, port=29533).items():
        monkeypatch.setenv(key, value)
    assert setup_distributed() == 2
    assert {k: os.environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")} == {
        "RANK": "1",
        "WORLD_SIZE": "2",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "localhost",
        "MASTER_PORT": "29533",
    }
    assert os.environ["ACCELERATE_USE_CPU"] == "true" and not is_main_process()


def test_before_the_group_forms_a_slurm_task_knows_whether_it_is_rank_0(monkeypatch):
    """Hydra's callbacks (the folder guard and its lock) run before setup_distributed exports RANK."""
    clear_env(monkeypatch, *DIST_KEYS)
    for key, value in slurm_env(rank=1, tasks=2, port=29533).items():
        monkeypatch.setenv(key, value)
    assert not is_main_process()
    monkeypatch.setenv("SLURM_PROCID", "0")
    assert is_main_process()
