"""hydra/launcher=slurm on a real single-node SLURM cluster (started by .ci/slurm.sh; root and apt needed).

Skips with the reason where the cluster cannot be started; fails instead when SUMEXP_REQUIRE_SLURM=1
(set by .ci/run), so CI cannot pass without running it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from sumexp.report import write_report
from tests.test_end_to_end import sumexp_cli
from tests.test_sweep import QUICK, REPO, job_dirs

REQUIRED = os.environ.get("SUMEXP_REQUIRE_SLURM") == "1"


def _cannot_start() -> str | None:
    if os.geteuid() != 0:
        return "not root: starting slurmctld, slurmd and munged needs root"
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        return "neither SLURM nor apt-get to install it is here"
    return None


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running single-node cluster; the daemons this fixture started are stopped after the module."""
    reason = _cannot_start()
    if reason:
        (pytest.fail if REQUIRED else pytest.skip)(f"SLURM cluster unavailable: {reason}")
    state = tmp_path_factory.mktemp("slurm") / "started.pids"
    up = subprocess.run(["bash", str(REPO / ".ci" / "slurm.sh"), "up", str(state)], capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        message = f"SLURM cluster did not start: {up.stderr.strip()[-1500:]}"
        (pytest.skip if up.returncode == 3 and not REQUIRED else pytest.fail)(message)
    yield
    subprocess.run(["bash", str(REPO / ".ci" / "slurm.sh"), "down", str(state)], timeout=60)


@pytest.mark.slow
def test_a_grid_runs_as_a_slurm_job_array_and_is_reported(slurm_cluster, tmp_path):
    run = sumexp_cli("-m", "hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=3",
                     "hydra.launcher.timeout_min=20", "model=tiny_bart,tiny_gpt2", "optim.lr=1e-4,1e-3",
                     f"hydra.sweep.dir={tmp_path}", *QUICK, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    jobs = job_dirs(tmp_path)
    assert [j.name for j in jobs] == ["0_tiny_bart_full", "1_tiny_bart_full", "2_tiny_gpt2_full", "3_tiny_gpt2_full"]
    records = [json.loads((j / "metrics.json").read_text()) for j in jobs]
    assert all(r["status"] == "completed" for r in records), records
    assert [r["model"] for r in records] == ["tiny_bart", "tiny_bart", "tiny_gpt2", "tiny_gpt2"]
    tasks = sorted(p.name for p in (tmp_path / ".submitit").iterdir() if re.fullmatch(r"\d+_\d+", p.name))
    assert len(tasks) == 4 and len({t.split("_")[0] for t in tasks}) == 1  # one job array of 4 tasks
    table = write_report([tmp_path], tmp_path)
    assert list(table["status"]) == ["completed"] * 4 and (tmp_path / "report.png").is_file()
